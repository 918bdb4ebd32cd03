"""Kubernetes adapters: the evidence sampler and helpers around the official client."""
