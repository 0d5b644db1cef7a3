# Two commands do all the set-up: `make test` and `make demo`. Both create .venv when missing and install
# driftline with `pip install -c constraints.txt -e ".[dev]"` (torch 2.13.0 is the CPU wheel on this machine).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.driftline-installed
PYTEST_ARGS ?=

.PHONY: install test lint typecheck docs unit integration demo clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check driftline tests benchmarks docs/_hooks
	$(BIN)/ruff format --check driftline tests benchmarks docs/_hooks

typecheck: $(STAMP)
	$(BIN)/mypy

# The documentation site from docs/ into site/ (offline). --strict: a broken link or anchor, a page missing from the
# nav, a config field or CLI option without a description, or a route without a summary fails the build.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

unit: $(STAMP)
	$(BIN)/pytest tests/unit --doctest-modules driftline $(PYTEST_ARGS)

integration: $(STAMP)
	$(BIN)/pytest tests/integration $(PYTEST_ARGS)

# Two pytest processes side by side, each with its own session Ray (a local Ray per process): most integration
# tests in one; in the other the unit tests, doctests, the two tests that start Ray clusters of their own (in
# subprocesses), two long end-to-end tests, the ten-model fleet test, the Postgres rollout tests and the
# 2,000,000-row label-window test. Much of an integration test is waiting (process and replica starts, polls),
# so the two overlap well on 2 cores. The second one's output is
# printed when both are done; the target fails if either does.
SIDE := tests/integration/test_cluster.py tests/integration/test_cluster_cli.py \
	tests/integration/test_families_ray.py tests/integration/test_docs_walkthrough.py \
	tests/integration/test_label_window.py tests/integration/test_fleet_serving.py \
	tests/integration/test_rollout_postgres.py tests/integration/test_batch_score.py
SIDE_LOG := .pytest-side.log

test: lint typecheck docs
	@$(BIN)/pytest tests/unit $(SIDE) --doctest-modules driftline --durations=10 $(PYTEST_ARGS) \
		> $(SIDE_LOG) 2>&1 & side=$$!; \
	$(BIN)/pytest tests/integration $(SIDE:%=--ignore=%) --durations=20 $(PYTEST_ARGS); main=$$?; \
	wait $$side; side_status=$$?; \
	echo "=== unit tests, doctests, $(SIDE) (run beside the above) ==="; cat $(SIDE_LOG); \
	echo "integration tests: exit $$main; the tests beside them: exit $$side_status"; \
	test $$main -eq 0 && test $$side_status -eq 0

demo: $(STAMP)
	$(BIN)/driftline demo $(DEMO_ARGS)

clean:
	rm -rf .driftline .pytest_cache .mypy_cache .ruff_cache .pytest-side.log site
