# Dockyard's everyday commands. `make bootstrap` runs first where it is needed:
# on a fresh Debian machine (as root) it installs and starts what is missing,
# elsewhere it only checks, in well under a second.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c

VENV := .venv
BIN := $(VENV)/bin
DOCKYARD := $(BIN)/dockyard -C examples/platform
ENV ?= local
CODE := src tests bench
# Test modules run in this many processes at once; a module stays in one process
# (its module fixtures deploy once). The suites mostly wait on the engine.
TEST_JOBS ?= 2

.DEFAULT_GOAL := help
.PHONY: help bootstrap demo down test lint format bench clean

help: ## list the targets
	@awk -F ':.*## ' '/^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

bootstrap: ## install and start what is missing (Docker, base image, .venv)
	@scripts/bootstrap.sh

demo: bootstrap ## deploy the example and show data going web -> api -> Postgres
	@scripts/demo.sh

down: bootstrap ## remove the example's containers (its database volume stays)
	$(DOCKYARD) down $(ENV)

lint: bootstrap ## ruff, ruff format --check and mypy
	$(BIN)/ruff check $(CODE)
	$(BIN)/ruff format --check $(CODE)
	$(BIN)/mypy src

test: lint ## lint, then every test suite (unit, engine, acceptance)
	@scripts/bootstrap.sh --tests
	$(BIN)/pytest -q -n $(TEST_JOBS) --dist loadfile

format: bootstrap ## format the code in place
	$(BIN)/ruff format $(CODE)
	$(BIN)/ruff check --fix $(CODE)

bench: bootstrap ## every benchmark, each against its peer (docker-compose, ...)
	@scripts/bootstrap.sh --bench
	$(BIN)/python bench/cli.py
	$(BIN)/python bench/deploy.py
	$(BIN)/python bench/release.py
	$(BIN)/python bench/rollout.py
	$(BIN)/python bench/down.py
	$(BIN)/python bench/ingress.py
	$(BIN)/python bench/hostile.py
	$(BIN)/python bench/secret_delivery.py

clean: ## remove caches and build artefacts (keeps .venv)
	rm -rf .pytest_cache .mypy_cache .ruff_cache build dist src/*.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
