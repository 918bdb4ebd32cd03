#!/usr/bin/env bash
# Builds the development tools the test suite runs, from Go modules, into $AIDEON_CACHE_DIR/bin
# (default ~/.cache/aideon-resilience/bin), next to the local cluster's binaries:
#   actionlint  validates every GitHub Actions workflow in .github/workflows (tests/workflows),
#               running shellcheck (a Debian prerequisite) on their `run:` scripts.
# Idempotent: a tool whose binary already reports the pinned version is not rebuilt.
set -euo pipefail

ACTIONLINT_MODULE=github.com/rhysd/actionlint
ACTIONLINT_VERSION=v1.7.12

cache=${AIDEON_CACHE_DIR:-$HOME/.cache/aideon-resilience}
bin="$cache/bin"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

fail() { echo "build-dev-tools: $*" >&2; exit 2; }

command -v go >/dev/null 2>&1 || fail "the Go toolchain is missing: install Go 1.26 or newer and put 'go' on PATH"
mkdir -p "$bin" || fail "cannot create the cache directory $cache"

if [ -x "$bin/actionlint" ] && [ "$("$bin/actionlint" -version 2>/dev/null | head -n 1)" = "$ACTIONLINT_VERSION" ]; then
  echo "==> actionlint $ACTIONLINT_VERSION: cached"
else
  echo "==> actionlint $ACTIONLINT_VERSION: building"
  # `go install module/cmd@version` builds from the module's own go.mod and go.sum.
  GOBIN="$bin" go install -trimpath -ldflags "-s -w" "$ACTIONLINT_MODULE/cmd/actionlint@$ACTIONLINT_VERSION" \
    || fail "could not build $ACTIONLINT_MODULE@$ACTIONLINT_VERSION from the Go module proxy (see the output above)"
  [ "$("$bin/actionlint" -version | head -n 1)" = "$ACTIONLINT_VERSION" ] \
    || fail "$bin/actionlint does not report $ACTIONLINT_VERSION after the build"
fi
