# Two commands do everything on a fresh machine with Python 3.11:
#   make run    set up .venv, write the demo dataset, fetch ImageNet weights (once), start the app: on this
#               machine only, or on the network when a password is set (ADDRESS=0.0.0.0 or 127.0.0.1
#               chooses); prints the address colleagues open
#   make test   set up .venv with the dev tools (and Chromium), lint, run every test (what CI runs)
#   make test-fast   lint and the tests without a browser or over 10 s (under 4 minutes)
#   make screenshots the docs' screenshots, from the browser tests (tests write no tracked file otherwise)
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8501
ADDRESS ?=
HOME_DIR ?= $(or $(SEGBOARD_HOME),workspace)

.PHONY: run test test-fast lint demo weights chromium clean screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.app: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.app

demo: $(VENV)/.app
	@test -f $(HOME_DIR)/demo/codes.txt || $(BIN)/python -m seg demo $(HOME_DIR)/demo

# ImageNet weights into the torch cache, once (nothing is downloaded while a run trains); offline, a sentence says
# that runs start from scratch and how to bring the files, and the app starts anyway.
weights: $(VENV)/.app
	-@$(BIN)/python -m seg weights

run: $(VENV)/.app demo weights
	SEGBOARD_HOME=$(HOME_DIR) $(BIN)/python -m seg serve --port $(PORT) $(if $(ADDRESS),--address $(ADDRESS))

# Debian's chromium for the browser tests (Playwright cannot download its own browsers here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing and apt-get is not usable: install Debian's chromium for the browser tests"; fi; }

lint: $(VENV)/.dev
	$(BIN)/ruff check .

# The tests in two worker processes of one thread each (pytest-xdist), a module's tests on one worker (its served
# app, its browser): measured on 2 cores, 867 s against 1,389 s for one process of two threads, whose CPU sat idle
# while a test waited on a browser, a server or a subprocess (1.1 of the 2 cores in use on average).
WORKERS ?= 2
# The modules in tests/conftest.py's order (the longest first), not xdist's (the most tests first).
PYTEST  := OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile --no-loadscope-reorder

test: $(VENV)/.dev chromium lint
	$(PYTEST) --durations=25

# The tests without a browser and without the slow ones (under 4 minutes): for the edit-test loop.
test-fast: $(VENV)/.dev lint
	$(PYTEST) -m "not e2e and not slow"

# The docs' screenshots (docs/screenshots/), from the browser tests that take them; a plain test run writes none.
screenshots: $(VENV)/.dev chromium
	SEGBOARD_SCREENSHOTS=1 $(BIN)/python -m pytest -q tests/test_e2e_browser.py tests/test_e2e_label.py \
	  tests/test_e2e_journey.py tests/test_compare.py tests/test_report.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
