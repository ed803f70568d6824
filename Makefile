# DocsTune: `make run` to try it, `make test` to check it. Both create .venv (and frontend/node_modules) on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= ./data
SAMPLE_DOCS := README.md docs

.PHONY: install frontend api-types web browser system-packages run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# reinstall only when the dependency list changes
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# the web UI: `npm ci` again only when the lockfile changes, a build only when a source changes
FRONTEND := frontend
NPM ?= npm
$(FRONTEND)/node_modules/.ci-stamp: $(FRONTEND)/package-lock.json $(FRONTEND)/package.json
	cd $(FRONTEND) && $(NPM) ci --no-audit --no-fund
	touch $@

frontend: $(FRONTEND)/node_modules/.ci-stamp

# the web UI's API types: the app's description with the default settings, and the TypeScript generated from
# it (tests/application/api/test_openapi_snapshot.py fails while either is stale)
api-types: install frontend
	$(BIN)/python -m application.api.openapi_snapshot $(FRONTEND)/openapi.json
	cd $(FRONTEND) && $(NPM) run api-types

$(FRONTEND)/dist/index.html: $(FRONTEND)/node_modules/.ci-stamp $(shell find $(FRONTEND)/src $(FRONTEND)/public -type f 2>/dev/null) $(FRONTEND)/index.html $(FRONTEND)/vite.config.ts $(FRONTEND)/tsconfig.json
	cd $(FRONTEND) && $(NPM) run build

web: $(FRONTEND)/dist/index.html

run: install web
	@if [ ! -f "$(DATA_DIR)/.samples-ingested" ]; then \
		echo "First run: ingesting the sample documents ($(SAMPLE_DOCS))"; \
		DATA_DIR=$(DATA_DIR) $(BIN)/docstune ingest $(SAMPLE_DOCS) && touch "$(DATA_DIR)/.samples-ingested"; \
	fi
	DATA_DIR=$(DATA_DIR) $(BIN)/docstune serve

# what DocsTune and its tests need from Debian: tesseract for OCR of scans, chromium for the browser tests (Playwright never downloads a browser),
# PostgreSQL and Redis servers (started by the tests on local ports), docker-compose 1.29 to validate the compose file
SYSTEM_PACKAGES := chromium postgresql redis-server docker-compose tesseract-ocr tesseract-ocr-eng
system-packages:
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		echo "Installing from Debian:$$missing"; \
		$$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y $$missing; \
	fi

browser: system-packages

# Vitest (components), then pytest: the Python suite and the browser tests in tests/e2e (SQLite),
# then the storage and API tests again on PostgreSQL
test: install web system-packages
	cd $(FRONTEND) && $(NPM) test
	$(BIN)/pytest
	$(MAKE) --no-print-directory test-postgres

# tests/application on a throw-away PostgreSQL server (tests/pg_server.py): the tests start Debian's
# PostgreSQL on a free 127.0.0.1 port with a temp data folder (as the unprivileged postgres user when
# run as root), give each test a fresh database, and stop the server and delete its folder at the end
.PHONY: test-postgres
test-postgres: install system-packages
	DOCSTUNE_TEST_DATABASE=postgresql $(BIN)/pytest tests/application

bench: install
	$(BIN)/python bench/ingest_and_search.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache $(FRONTEND)/node_modules $(FRONTEND)/dist tests/e2e/artifacts
