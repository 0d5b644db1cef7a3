# Two commands do all the set-up: `make test` and `make demo`. Both create .venv when missing and install
# driftline with `pip install -c constraints.txt -e ".[dev]"` (torch 2.13.0 is the CPU wheel on this machine).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.driftline-installed
PYTEST_ARGS ?=

.PHONY: install test lint typecheck unit integration demo clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check driftline tests benchmarks
	$(BIN)/ruff format --check driftline tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit --doctest-modules driftline $(PYTEST_ARGS)

integration: $(STAMP)
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

test: lint typecheck
	$(BIN)/pytest tests/unit tests/integration --doctest-modules driftline --durations=20 $(PYTEST_ARGS)

demo: $(STAMP)
	$(BIN)/driftline demo $(DEMO_ARGS)

clean:
	rm -rf .driftline .pytest_cache .mypy_cache .ruff_cache
