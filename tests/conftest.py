"""Shared fixtures. Tests that need the local embedded cluster carry the `cluster` marker."""
