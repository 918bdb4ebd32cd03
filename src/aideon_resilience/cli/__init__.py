"""Command-line interface (`aideon-resilience`)."""
