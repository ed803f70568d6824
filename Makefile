# DocsTune: `make run` to try it, `make test` to check it. Both create .venv on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= ./data
SAMPLE_DOCS := README.md docs

.PHONY: install run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# reinstall only when the dependency list changes
$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install -e '.[dev]'
	touch $@

install: $(VENV)/.installed

run: install
	@if [ ! -f "$(DATA_DIR)/.samples-ingested" ]; then \
		echo "First run: ingesting the sample documents ($(SAMPLE_DOCS))"; \
		DATA_DIR=$(DATA_DIR) $(BIN)/docstune ingest $(SAMPLE_DOCS) && touch "$(DATA_DIR)/.samples-ingested"; \
	fi
	DATA_DIR=$(DATA_DIR) $(BIN)/docstune serve

test: install
	$(BIN)/pytest

bench: install
	$(BIN)/python bench/ingest_and_search.py

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
