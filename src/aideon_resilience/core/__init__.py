"""Core: SLO model and evaluation, timeline, verdict, reports, lint, capacity plan. Imports no adapter."""
