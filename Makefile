PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.installed
DEV := $(VENV)/.installed-dev
# the sandbox's own dependencies (the extra `sandbox`): the demo and the tests run it
SANDBOX := $(VENV)/.installed-sandbox
# the report tests render report.html in a real browser and read the PDF it prints
BROWSER := $(VENV)/.browser
BROWSER_PACKAGES := chromium fonts-dejavu-core poppler-utils

.PHONY: venv demo test bench lint clean

# pip installs uv, and uv installs the rest: in seconds, where pip takes most of a minute.
# Bytecode is compiled at install, as pip does: each pik-recon process then starts in about 1 s
# instead of 4, even where PYTHONDONTWRITEBYTECODE keeps Python from caching it
UV := $(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python

$(RUNTIME): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet 'uv>=0.5'
	$(UV) -e .
	touch $(RUNTIME)

$(DEV): $(RUNTIME)
	$(UV) -e '.[dev]'
	touch $(DEV)

$(SANDBOX): $(RUNTIME)
	$(UV) -e '.[sandbox]'
	touch $(SANDBOX)

$(BROWSER): $(RUNTIME)
	command -v chromium >/dev/null 2>&1 && command -v pdftotext >/dev/null 2>&1 || { \
	  root=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$root apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$root apt-get install -y -qq --no-install-recommends \
	    $(BROWSER_PACKAGES); }
	touch $(BROWSER)

venv: $(DEV) $(SANDBOX)

demo: $(SANDBOX)
	$(BIN)/pik-recon demo

# The package's own bytecode too, for the same reason: the tests start pik-recon hundreds of
# times, each compiling its modules where PYTHONDONTWRITEBYTECODE is set
test: $(DEV) $(SANDBOX) $(BROWSER)
	$(BIN)/ruff check pik_recon tests
	$(BIN)/python -m compileall -q pik_recon
	$(BIN)/pytest -q -n auto --dist loadfile --no-loadscope-reorder tests

bench: $(DEV) $(SANDBOX)
	$(BIN)/pytest -q -s -p no:cacheprovider -o addopts="" tests/benchmarks

# dead code: vulture over the package; vulture_whitelist.py names what frameworks call
lint: $(DEV)
	$(BIN)/ruff check pik_recon tests
	$(BIN)/vulture pik_recon vulture_whitelist.py

# Build artefacts and the environment make creates, never data: no warehouse (*.duckdb),
# no reports/, no export is deleted by anything the project ships.
clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache .hypothesis pik_recon.egg-info
	find pik_recon tests -depth -type d -name __pycache__ -exec rm -rf {} +
