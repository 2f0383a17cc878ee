PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv demo test bench lint clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/pik-recon demo

test: $(STAMP)
	$(BIN)/ruff check pik_recon tests
	$(BIN)/pytest -q tests

bench: $(STAMP)
	$(BIN)/pytest -q -s -p no:cacheprovider -o addopts="" tests/benchmarks

lint: $(STAMP)
	$(BIN)/ruff check pik_recon tests
	$(BIN)/ruff format --check pik_recon tests

clean:
	rm -rf $(VENV) build dist reports pik_recon.duckdb
