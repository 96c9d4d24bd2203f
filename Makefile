# IP2A — `make run` serves the portal with demo data, `make test` runs every check CI runs.
# Needs only Python 3.12+ (3.13 preferred); PostgreSQL comes embedded (var/pgdata).

# $(PYTHON) if given, else the first of python3.13 / python3.12 that runs (pyenv shims included:
# the project's .python-version picks one).
PYTHON ?= $(shell for p in python3.13 python3.12; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test lint format migrations-check install clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@if [ -z "$(PYTHON)" ]; then \
		echo "IP2A needs Python 3.12 or newer: install python3.13 or python3.12, or run make PYTHON=/path/to/python3.12" >&2; \
		exit 1; fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev,load,s3]"
	@touch $@

install: $(STAMP)  ## Create .venv and install the pinned dependencies

run: $(STAMP)  ## Serve the portal with demo data on http://127.0.0.1:$${PORT:-8000}
	$(BIN)/python manage.py serve

test: $(STAMP)  ## Run the whole test suite on PostgreSQL, lint, format check and the migrations check
	IP2A_ENV=test $(BIN)/python -m pytest
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	IP2A_ENV=test $(BIN)/python manage.py makemigrations --check --dry-run

lint: $(STAMP)  ## ruff check and format check only
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)  ## Rewrite the code in the house format
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:  ## Remove the virtualenv and caches (keeps var/: the database and attachments)
	rm -rf $(VENV) .pytest_cache .ruff_cache
