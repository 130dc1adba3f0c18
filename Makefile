# Every target does its own set-up on a fresh machine: it creates .venv, installs the pinned torch
# (constraints.txt) first, then the package with its test extras.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: test test-all lint demo clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt torch
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m ruff check src tests examples
	$(PY) -m pytest -q -m "not slow"

test-all: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check src tests examples

demo: $(STAMP)
	$(VENV)/bin/scorematch demo --out demo

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache .ruff_cache
