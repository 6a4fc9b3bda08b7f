# Two commands do all the set-up: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export ATTEST_HOME ?= $(CURDIR)/.attest
PORT   ?= 8501

.PHONY: run test lint format bench demo clean browser-deps

$(STAMP): requirements.lock pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null || { \
	  echo "error: Python 3.11+ is needed ('$(PYTHON)'); run 'make PYTHON=/path/to/python3.11 ...'" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

# The demo warehouse is built once (models trained, logs ingested) and reused; `attest sample`
# writes the marker only after everything is loaded, so an interrupted build is redone.
DEMO := $(ATTEST_HOME)/demo/.loaded
$(DEMO): | $(STAMP)
	$(BIN)/attest sample

demo: $(STAMP) $(DEMO)

run: demo
	$(BIN)/streamlit run app.py --server.port $(PORT) --server.address 127.0.0.1

browser-deps:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }
	@command -v pdftoppm >/dev/null && command -v qpdf >/dev/null || { \
	  echo "installing poppler-utils and qpdf for the PDF tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq poppler-utils qpdf >/dev/null; }

test: $(STAMP) browser-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python -m benchmarks.ingest

clean:
	rm -rf $(VENV) .attest test-artifacts .pytest_cache
