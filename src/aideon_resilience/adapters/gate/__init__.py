"""The pre-release resilience gate: load + chaos suite + evidence timeline + SLO verdict."""
