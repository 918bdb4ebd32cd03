# Two set-up commands on a fresh machine: `make gate` and `make test` (see README.md). Both first
# run scripts/install-prerequisites.sh (toolchain check, Debian packages), then create .venv from
# the lock file, then build the local cluster's binaries (`make test` also the development tools).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
LOCK := requirements.lock
# The lock tool, pinned, in a virtual environment of its own (never in the repository's lock).
UV_VERSION := 0.13.9
LOCK_VENV ?= .venv-lock
export AIDEON_CACHE_DIR ?= $(HOME)/.cache/aideon-resilience

.PHONY: help prerequisites venv lock binaries dev-tools check test test-unit test-cluster test-long gate rehearsal cluster-up cluster-down bench settings-doc clean

help:
	@echo "make gate   - bring the local cluster up (building it if needed) and run the resilience gate"
	@echo "make test   - install, build the local cluster's binaries, run linters and the whole test suite"
	@echo "make rehearsal - rehearse the chaos suite at production's shape (96 nodes, 1,000,000 modelled users)"
	@echo "make lock   - refresh $(LOCK) from pyproject.toml (UPGRADE=1: newest versions of everything)"
	@echo "make settings-doc - regenerate docs/settings.md from src/aideon_resilience/settings.py"

# Toolchain check and Debian packages; listed first by every target that builds or runs the
# local cluster so that a missing package stops the run before the long build.
prerequisites:
	@PYTHON=$(PYTHON) bash scripts/install-prerequisites.sh

# Exactly the locked versions (hash-checked), the build backend included; then the project
# itself without resolving anything.
$(BIN)/aideon-resilience: pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

venv: $(BIN)/aideon-resilience

# Re-resolves pyproject.toml's dependencies (runtime, the dev extra, build-system.requires) for
# Python 3.11 on Linux x86_64, keeping the current pins where they still fit (UPGRADE=1: newest).
lock:
	@test -x $(LOCK_VENV)/bin/uv || { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/pip install --quiet uv==$(UV_VERSION); }
	set -o pipefail; $(PYTHON) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' \
	  | $(LOCK_VENV)/bin/uv pip compile --quiet $(if $(UPGRADE),--upgrade) --extra dev --generate-hashes \
	      --python-version 3.11 --python-platform x86_64-unknown-linux-gnu --no-emit-index-url \
	      --custom-compile-command 'make lock' --output-file $(LOCK) pyproject.toml -
	@sed -i '1i # Pinned, hash-checked Python dependencies of the project (runtime, dev extra, build backend) for\n# Python 3.11 on Linux x86_64; `make` installs .venv from it. Do not edit: refresh it with\n# `make lock` after changing pyproject.toml (`make lock UPGRADE=1` moves every pin to its newest version).' $(LOCK)

binaries:
	bash scripts/build-k8s.sh

# actionlint (validates .github/workflows in the test suite), built from its Go module.
dev-tools:
	bash scripts/build-dev-tools.sh

check: venv
	$(BIN)/ruff check src tests loadtests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test-unit: venv dev-tools
	$(BIN)/pytest -m "not cluster"

test-cluster: prerequisites venv binaries
	$(BIN)/pytest -m "cluster and not long"

test: prerequisites venv binaries dev-tools check
	$(BIN)/pytest --durations=30

cluster-up: prerequisites venv binaries
	$(BIN)/aideon-resilience cluster up

cluster-down: venv
	$(BIN)/aideon-resilience cluster down

gate: prerequisites venv binaries
	$(BIN)/aideon-resilience gate --env local

rehearsal: prerequisites venv binaries
	$(BIN)/aideon-resilience rehearse --env production

test-long: prerequisites venv binaries
	$(BIN)/pytest -m long

bench: prerequisites venv binaries
	$(BIN)/python benchmarks/run.py

# docs/settings.md from the declared variables (settings.VARIABLES); a test keeps the two equal.
settings-doc:
	PYTHONPATH=src $(PYTHON) -m aideon_resilience.settings > docs/settings.md

clean:
	rm -rf $(VENV) $(LOCK_VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
