# QuantGrid developer commands. `make run` and `make test` work on a fresh machine
# with only Python 3.11 and make: they create .venv from the lock file first.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements/lock.txt
RUN_DIR ?= results/demo
RUN_DB ?= results/quantgrid.db

.PHONY: help setup run demo test check lint format typecheck contracts bench lock clean

help:
	@echo "make run        set up, then run every service in one process (quantgrid up) on"
	@echo "                127.0.0.1:8000 with the synthetic market and a demo user"
	@echo "make demo       set up, then run the demo backtest on the synthetic market"
	@echo "make test       set up, then run the whole test suite"
	@echo "make check      lint, format check, mypy strict, import contracts, tests"
	@echo "make bench      run the benchmarks in benchmarks/"
	@echo "make lock       re-resolve requirements/lock.txt from pyproject.toml"

setup: $(STAMP)

$(STAMP): $(LOCK) pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

run: $(STAMP)
	@mkdir -p $(dir $(RUN_DB))
	$(BIN)/quantgrid up --database-url sqlite:///$(RUN_DB)

demo: $(STAMP)
	$(BIN)/quantgrid demo --output $(RUN_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

check: lint typecheck contracts test

bench: $(STAMP)
	$(BIN)/python benchmarks/backtest_speed.py
	$(BIN)/python benchmarks/sweep_speed.py
	$(BIN)/python benchmarks/regime_accuracy.py
	$(BIN)/python benchmarks/risk_check.py
	$(BIN)/python benchmarks/execution_cost.py
	$(BIN)/python benchmarks/node_throughput.py
	$(BIN)/python benchmarks/order_load.py
	$(BIN)/python benchmarks/ml_serving.py
	$(BIN)/python benchmarks/first_start.py

# Needs uv on the PATH (pip install uv); CI and `make setup` only read the lock.
lock:
	uv pip compile pyproject.toml requirements/build.in --extra dev --extra distributed --python-version 3.11 --generate-hashes \
		-o $(LOCK) --quiet

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache results
