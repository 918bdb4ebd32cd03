"""Chaos Toolkit controls of the Aideon extension: ``safety`` and ``load``."""
