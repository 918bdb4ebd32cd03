#!/usr/bin/env bash
# Checks what `make gate` and `make test` need from the machine and installs what Debian can
# provide, before any long build starts. Idempotent; takes well under a second when all is there.
#
#   toolchain (checked, never installed): Python 3.11 with venv ($PYTHON, default python3.11),
#     Go 1.26 or newer (`go`), `make`
#   Debian packages (installed with apt-get when missing): haproxy, prometheus, chromium,
#     shellcheck (actionlint runs it on the workflows' scripts in the test suite)
#     (override with AIDEON_PREREQ_PACKAGES, a space-separated list; empty skips them)
#
# Missing packages are installed as root, or through passwordless sudo (`sudo -n`); `apt-get
# update` runs once, only when something is missing; afterwards the services Debian starts on
# install (prometheus, prometheus-node-exporter, haproxy) are stopped: the harness runs its own
# on loopback. When something is missing and cannot be installed here, one line on stderr names
# it and how to install it, and the exit code is 2. Every command is looked up on PATH.
set -uo pipefail

PYTHON=${PYTHON:-python3.11}
GO_MIN_MINOR=26
packages=${AIDEON_PREREQ_PACKAGES-haproxy prometheus chromium shellcheck}
services="prometheus prometheus-node-exporter haproxy"

refuse() { echo "install-prerequisites: $*" >&2; exit 2; }

# --- toolchain -----------------------------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 \
  || refuse "$PYTHON is missing: install Python 3.11 (Debian: apt-get install -y python3.11 python3.11-venv) or set PYTHON"
pyver=$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null) \
  || refuse "$PYTHON does not run: install Python 3.11 or set PYTHON to a Python 3.11 interpreter"
case "$pyver" in
  3.11.*) ;;
  *) refuse "$PYTHON is Python $pyver, the lock file is for Python 3.11: install Python 3.11 or set PYTHON" ;;
esac
"$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 \
  || refuse "$PYTHON cannot create virtual environments: install its venv module (Debian: apt-get install -y python3.11-venv)"

command -v go >/dev/null 2>&1 \
  || refuse "the Go toolchain is missing: install Go 1.$GO_MIN_MINOR or newer and put 'go' on PATH"
gover=$(GOTOOLCHAIN=local go env GOVERSION 2>/dev/null) || refuse "'go env GOVERSION' fails: reinstall Go 1.$GO_MIN_MINOR or newer"
gover=${gover#go}
if [[ $gover =~ ^1\.([0-9]+) ]]; then
  (( BASH_REMATCH[1] >= GO_MIN_MINOR )) \
    || refuse "Go $gover is too old: install Go 1.$GO_MIN_MINOR or newer (KWOK needs it to build the local cluster)"
elif [[ ! $gover =~ ^([2-9]|1[0-9])\. ]]; then
  refuse "cannot read the Go version ('$gover'): install Go 1.$GO_MIN_MINOR or newer"
fi

command -v make >/dev/null 2>&1 || refuse "make is missing: install it (Debian: apt-get install -y make)"

# --- Debian packages -----------------------------------------------------------------------
installed() {
  local status
  status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
  [[ $status == *" installed" ]]
}

missing=()
if [ -n "${packages// /}" ]; then
  command -v dpkg-query >/dev/null 2>&1 \
    || refuse "cannot check the Debian packages $packages: dpkg-query is missing (not Debian?); install them with your package manager and set AIDEON_PREREQ_PACKAGES= to skip this check"
  for pkg in $packages; do
    installed "$pkg" || missing+=("$pkg")
  done
fi

toolchain="Python $pyver, Go $gover, make"
if [ ${#missing[@]} -eq 0 ]; then
  echo "prerequisites: $toolchain${packages:+, $packages} present"
  exit 0
fi

how="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u 2>/dev/null)" = 0 ]; then
  as=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
  as=(sudo -n)
else
  refuse "missing Debian packages: ${missing[*]}; not root and no passwordless sudo, so install them yourself: sudo sh -c '$how'"
fi
command -v apt-get >/dev/null 2>&1 \
  || refuse "missing Debian packages: ${missing[*]}; apt-get is missing, so install them with your package manager"

echo "prerequisites: installing Debian packages ${missing[*]} (apt-get)"
export DEBIAN_FRONTEND=noninteractive
"${as[@]}" apt-get update -qq \
  || refuse "apt-get update failed (see above): install ${missing[*]} yourself: $how"
"${as[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
  || refuse "apt-get install ${missing[*]} failed (see above): install them yourself: $how"

# Debian starts some of these as services on install; the harness runs its own on loopback.
for svc in $services; do
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    "${as[@]}" systemctl stop "$svc" >/dev/null 2>&1 || true
  elif command -v service >/dev/null 2>&1; then
    "${as[@]}" service "$svc" stop >/dev/null 2>&1 || true
  fi
done

still=()
for pkg in "${missing[@]}"; do
  installed "$pkg" || still+=("$pkg")
done
[ ${#still[@]} -eq 0 ] || refuse "apt-get did not install ${still[*]}: install them yourself: $how"
echo "prerequisites: $toolchain, $packages present"
