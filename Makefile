# The README's two commands: `make up` (install into .venv and start the platform) and `make test` (every test).
# Installing is a file target, so a second run reinstalls only when sources changed.

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.mlp-installed
ARTIFACTS ?= test-artifacts
# Everything the installed package is built from: the hatch hook rebuilds the labextension on install.
SOURCES := pyproject.toml package.json yarn.lock tsconfig.json install.json \
	$(shell find labextension jupyter-config -type f 2>/dev/null)

.PHONY: install up down test test-python test-ts bench clean

install: $(STAMP)

$(STAMP): $(SOURCES)
	@echo "[install] $$(date -u +%T) UTC"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	# A development build (`jlpm build`) leaves install.json in the output; the wheel maps the root one there too.
	rm -f jupyter_mlp/labextension/install.json
	# torch before anything that depends on it (the dev install pulls the `assistant` extra): this exact pin is the
	# CPU build these machines install from local disk in seconds; any other torch requirement downloads multi-GB CUDA.
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	# Editable: Python changes are live; the hook builds the labextension into the package and the venv.
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	# `mlp hub`'s proxy (npm), into the venv: .venv/bin/configurable-http-proxy, where jupyter_mlp.hub looks first
	npm install --global --silent --prefix $(VENV) "configurable-http-proxy@5"
	touch $(STAMP)

up: install
	$(BIN)/mlp up

down:
	@test -x $(BIN)/mlp && $(BIN)/mlp down || true

test: install
	@bash tests/run.sh

bench: install
	$(BIN)/python -m tests.bench.run

clean:
	rm -rf $(VENV) node_modules lib jupyter_mlp/labextension $(ARTIFACTS)
