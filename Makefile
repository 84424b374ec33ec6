# One command each for a fresh machine: `make run` (the demo marketplace on the local stack) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run serve test lint typecheck unit bench clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)  ## the local stack with the demo marketplace, alerts firing
	$(BIN)/perfguard demo

serve: $(STAMP)  ## the local stack without demo traffic
	$(BIN)/perfguard serve

lint: $(STAMP)
	$(BIN)/ruff check functions tests bench
	$(BIN)/ruff format --check functions tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck  ## ruff, mypy --strict, then the whole pytest suite
	$(BIN)/pytest

unit: $(STAMP)
	$(BIN)/pytest tests --ignore=tests/integration

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
