"""Aideon resilience harness: load, chaos and an SLO gate for the Aideon AI Lite platform."""

__version__ = "0.1.0"
