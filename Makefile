PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed
DEV := $(VENV)/.installed-dev

.PHONY: venv demo test bench lint clean

$(RUNTIME): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(DEV)

venv: $(DEV)

demo: $(RUNTIME)
	$(BIN)/pik-recon demo

test: $(DEV)
	$(BIN)/ruff check pik_recon tests
	$(BIN)/pytest -q tests

bench: $(DEV)
	$(BIN)/pytest -q -s -p no:cacheprovider -o addopts="" tests/benchmarks

lint: $(DEV)
	$(BIN)/ruff check pik_recon tests

clean:
	rm -rf $(VENV) build dist reports pik_recon.duckdb
