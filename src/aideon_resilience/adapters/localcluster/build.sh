#!/usr/bin/env bash
# Builds the local cluster's binaries from Go modules into a cache outside the repository:
#   kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (Kubernetes),
#   etcd, kwok, kwokctl, metrics-server.
# Idempotent: a component whose binary already reports the pinned version is not rebuilt.
# Cache: $AIDEON_CACHE_DIR (default ~/.cache/aideon-resilience); binaries in $AIDEON_CACHE_DIR/bin.
# Usage: build.sh [kubernetes|etcd|kwok|metrics-server ...]   (default: all four)
#        KUBE_BINARIES="kubectl" build.sh kubernetes        (only some Kubernetes binaries)
set -euo pipefail
sections=${*:-kubernetes etcd kwok metrics-server}
want() { case " $sections " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"

cache=${AIDEON_CACHE_DIR:-$HOME/.cache/aideon-resilience}
bin="$cache/bin"
work="$cache/build"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-buildvcs=false

fail() { echo "build-k8s: $*" >&2; exit 2; }
step() { echo "==> $*"; }

command -v go >/dev/null 2>&1 || fail "the Go toolchain is missing: install Go 1.26 or newer and put 'go' on PATH"
gover=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
case "$gover" in
  1.2[6-9]*|1.[3-9]*) ;;
  *) fail "Go $gover is too old: KWOK $KWOK_VERSION needs Go 1.26 or newer" ;;
esac
mkdir -p "$bin" "$work" || fail "cannot create the cache directory $cache"

# has_version BINARY EXPECTED: true when the cached binary runs and reports EXPECTED.
has_version() {
  local probe=--version
  [ "$1" = kubectl ] && probe="version --client"
  # shellcheck disable=SC2086
  [ -x "$bin/$1" ] && [ -f "$bin/.$1.version" ] && [ "$(cat "$bin/.$1.version")" = "$2" ] \
    && "$bin/$1" $probe >/dev/null 2>&1
}

# wrapper NAME MODULE VERSION PKG...: a fresh wrapper module requiring MODULE@VERSION, with the
# dependencies of the main packages PKG... resolved (go get also records their go.sum entries).
wrapper() {
  local name=$1 mod=$2 ver=$3; shift 3
  local dir="$work/$name" pkgs=()
  rm -rf "$dir"; mkdir -p "$dir"
  printf 'module aideon.local/build/%s\n\ngo 1.26\n\nrequire %s %s\n' "$name" "$mod" "$ver" > "$dir/go.mod"
  for p in "$@"; do pkgs+=("$p@$ver"); done
  ( cd "$dir" && go get "${pkgs[@]}" ) || fail "could not resolve $mod@$ver from the Go module proxy"
}

build() { # DIR LDFLAGS OUT PKG...
  local dir=$1 ldflags=$2 out=$3; shift 3
  ( cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$out" "$@" ) || fail "go build of $* failed (see the output above)"
}

# --- Kubernetes -----------------------------------------------------------------------------
k8s_bins=${KUBE_BINARIES:-kube-apiserver kube-controller-manager kube-scheduler kubectl}
need_k8s=0
want kubernetes || k8s_bins=""
for b in $k8s_bins; do has_version "$b" "$KUBERNETES_VERSION" || need_k8s=1; done
if [ -z "$k8s_bins" ]; then
  :
elif [ $need_k8s = 1 ]; then
  step "Kubernetes $KUBERNETES_VERSION: resolving the staging modules"
  dir="$work/kubernetes"
  rm -rf "$dir"; mkdir -p "$dir"
  gomod=$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || fail "could not download k8s.io/kubernetes@$KUBERNETES_VERSION from the Go module proxy"
  staging_ver="v0.${KUBERNETES_VERSION#v1.}"
  {
    printf 'module aideon.local/build/kubernetes\n\ngo 1.26\n\nrequire k8s.io/kubernetes %s\n\n' "$KUBERNETES_VERSION"
    grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$gomod" | awk '{print $1}' | sort -u \
      | while read -r m; do printf 'replace %s => %s %s\n' "$m" "$m" "$staging_ver"; done
  } > "$dir/go.mod"
  printf 'package tools\n\nimport (\n\t_ "k8s.io/kubernetes/cmd/kube-apiserver/app"\n\t_ "k8s.io/kubernetes/cmd/kube-controller-manager/app"\n\t_ "k8s.io/kubernetes/cmd/kube-scheduler/app"\n\t_ "k8s.io/kubectl/pkg/cmd"\n)\n' > "$dir/tools.go"
  ( cd "$dir" && go mod tidy >/dev/null 2>&1 ) || ( cd "$dir" && go mod tidy ) || fail "go mod tidy failed for Kubernetes $KUBERNETES_VERSION"
  minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
  ld="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld="$ld -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
  step "Kubernetes $KUBERNETES_VERSION: building $k8s_bins (the cold build takes a while on 2 cores)"
  pkgs=(); for b in $k8s_bins; do pkgs+=("k8s.io/kubernetes/cmd/$b"); done
  build "$dir" "$ld" "$bin/" "${pkgs[@]}"
  for b in $k8s_bins; do echo "$KUBERNETES_VERSION" > "$bin/.$b.version"; done
else
  step "Kubernetes $KUBERNETES_VERSION: cached"
fi

# --- etcd -----------------------------------------------------------------------------------
if ! want etcd; then
  :
elif ! has_version etcd "$ETCD_VERSION"; then
  step "etcd $ETCD_VERSION: building"
  wrapper etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION" go.etcd.io/etcd/server/v3
  build "$work/etcd" "-s -w" "$bin/etcd" go.etcd.io/etcd/server/v3
  echo "$ETCD_VERSION" > "$bin/.etcd.version"
else
  step "etcd $ETCD_VERSION: cached"
fi

# --- KWOK -----------------------------------------------------------------------------------
if ! want kwok; then
  :
elif ! has_version kwok "$KWOK_VERSION" || ! has_version kwokctl "$KWOK_VERSION"; then
  step "KWOK $KWOK_VERSION: building kwok and kwokctl"
  wrapper kwok sigs.k8s.io/kwok "$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
  ld="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBERNETES_VERSION"
  build "$work/kwok" "$ld" "$bin/" sigs.k8s.io/kwok/cmd/kwok sigs.k8s.io/kwok/cmd/kwokctl
  echo "$KWOK_VERSION" > "$bin/.kwok.version"; echo "$KWOK_VERSION" > "$bin/.kwokctl.version"
else
  step "KWOK $KWOK_VERSION: cached"
fi
# KWOK's default stages of the pinned version, which the local cluster's configuration starts from
# (kwokconfig.py): kwokctl uses either its built-in defaults or the stages it is given, not both.
stages="$cache/kwok-stages/$KWOK_VERSION"
if want kwok && [ ! -f "$stages/.complete" ]; then
  step "KWOK $KWOK_VERSION: default stages"
  moddir=$(cd "$work" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  [ -d "$moddir/kustomize/stage" ] || fail "could not download sigs.k8s.io/kwok@$KWOK_VERSION from the Go module proxy"
  rm -rf "$stages"; mkdir -p "$stages"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
           pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    cp "$moddir/kustomize/stage/$f" "$stages/" || fail "KWOK $KWOK_VERSION has no stage $f"
  done
  touch "$stages/.complete"
fi

# --- metrics-server -------------------------------------------------------------------------
if ! want metrics-server; then
  :
elif ! has_version metrics-server "$METRICS_SERVER_VERSION"; then
  step "metrics-server $METRICS_SERVER_VERSION: building"
  wrapper metrics-server sigs.k8s.io/metrics-server "$METRICS_SERVER_VERSION" sigs.k8s.io/metrics-server/cmd/metrics-server
  ld="-s -w -X k8s.io/component-base/version.gitVersion=$METRICS_SERVER_VERSION -X k8s.io/client-go/pkg/version.gitVersion=$METRICS_SERVER_VERSION"
  build "$work/metrics-server" "$ld" "$bin/metrics-server" sigs.k8s.io/metrics-server/cmd/metrics-server
  echo "$METRICS_SERVER_VERSION" > "$bin/.metrics-server.version"
else
  step "metrics-server $METRICS_SERVER_VERSION: cached"
fi

step "binaries ready in $bin"
