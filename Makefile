# Two set-up commands on a fresh machine: `make gate` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
export AIDEON_CACHE_DIR ?= $(HOME)/.cache/aideon-resilience

.PHONY: help venv binaries check test test-unit test-cluster gate cluster-up cluster-down bench clean

help:
	@echo "make gate   - bring the local cluster up (building it if needed) and run the resilience gate"
	@echo "make test   - install, build the local cluster's binaries, run linters and the whole test suite"

$(BIN)/aideon-resilience: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

venv: $(BIN)/aideon-resilience

binaries:
	bash scripts/build-k8s.sh

check: venv
	$(BIN)/ruff check src tests loadtests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

test-unit: venv
	$(BIN)/pytest -m "not cluster"

test-cluster: venv binaries
	$(BIN)/pytest -m cluster

test: venv binaries check
	$(BIN)/pytest

cluster-up: venv binaries
	$(BIN)/aideon-resilience cluster up

cluster-down: venv
	$(BIN)/aideon-resilience cluster down

gate: venv binaries
	$(BIN)/aideon-resilience gate --env local

bench: venv binaries
	$(BIN)/python benchmarks/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
