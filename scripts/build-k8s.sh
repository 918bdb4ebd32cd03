#!/usr/bin/env bash
# Builds the local cluster's binaries (Kubernetes control plane, etcd, KWOK, metrics-server) from
# Go modules into $AIDEON_CACHE_DIR/bin (default ~/.cache/aideon-resilience/bin). Idempotent.
# The build itself ships inside the package so that `aideon-resilience cluster up` can run it too.
exec bash "$(cd "$(dirname "$0")/.." && pwd)/src/aideon_resilience/adapters/localcluster/build.sh" "$@"
