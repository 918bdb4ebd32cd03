"""The environment's input files as models: gate.yaml, rehearsal.yaml, the load shapes,
cluster-shape.yaml and the platform's aideon-config."""
