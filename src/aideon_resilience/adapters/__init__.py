"""Adapters: Kubernetes, Locust, Chaos Toolkit, the local embedded cluster and data plane."""
