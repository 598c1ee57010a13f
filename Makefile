# Guichet: `make run` starts everything, `make test` runs every test.
# Both create what is missing first: the two Python environments (from the
# committed lock files), the Rasa model (only when its inputs changed) and the
# knowledge-base index (only when the entries changed).

SHELL := /bin/bash
PYTHON311 ?= $(shell command -v python3.11 || command -v python3)
PYTHON310 ?= $(shell pyenv root 2>/dev/null)/versions/3.10.13/bin/python
VENV := .venv
VENV_RASA := .venv-rasa
APP_STAMP := $(VENV)/.guichet-installed
RASA_STAMP := $(VENV_RASA)/.guichet-installed
PY := $(VENV)/bin/python
CHROMIUM ?= /usr/bin/chromium
NODE_STAMP := node_modules/.guichet-installed

.PHONY: run test setup browser node model index lint bench lock clean help
.DEFAULT_GOAL := help

help:
	@echo "make run    create what is missing, then start Rasa, the action server and the API"
	@echo "make test   create what is missing, then run the linters and the whole test suite"
	@echo "make bench  run the benchmarks"
	@echo "make lock   re-pin requirements/*.lock from what the environments hold"
	@echo "make clean  remove both environments and var/"

$(APP_STAMP): requirements/app.lock pyproject.toml
	@test -x "$(PYTHON311)" || { echo "Python 3.11 is needed (python3.11 or python3)"; exit 1; }
	$(PYTHON311) -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version'
	test -x $(VENV)/bin/python || $(PYTHON311) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet "pip==26.3"
	$(VENV)/bin/pip install --quiet --progress-bar off -r requirements/app.lock
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $@

$(RASA_STAMP): requirements/rasa.lock
	@test -x "$(PYTHON310)" || { echo "Python 3.10.13 is needed for Rasa: pyenv install 3.10.13"; exit 1; }
	test -x $(VENV_RASA)/bin/python || $(PYTHON310) -m venv $(VENV_RASA)
	$(VENV_RASA)/bin/pip install --quiet "pip==24.3.1"
	$(VENV_RASA)/bin/pip install --quiet --progress-bar off -r requirements/rasa.lock
	touch $@

setup: $(APP_STAMP) $(RASA_STAMP)

# The browser tests drive Debian's Chromium through Playwright; Playwright never downloads a browser.
browser:
	@test -x $(CHROMIUM) || { \
		echo "Installing Debian's chromium for the browser tests"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	}
	@$(CHROMIUM) --version

# The browser tests load axe-core and rasa-webchat from npm (package-lock.json pins them).
$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed for the browser tests (Debian: apt-get install npm)"; exit 1; }
	npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

node: $(NODE_STAMP)

model: setup
	$(PY) -m scripts.model

index: setup
	$(PY) -m knowledge_base build-index

# scripts.stack trains the model and builds the index itself when they are out of date.
run: setup
	$(PY) -m scripts.stack

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy api actions knowledge_base scripts benchmarks tests

test: lint model index browser node
	$(PY) -m pytest

bench: model index
	$(PY) -m benchmarks

lock: setup
	$(VENV)/bin/pip freeze --exclude-editable | grep -v '^guichet' > requirements/app.lock
	$(VENV_RASA)/bin/pip freeze > requirements/rasa.lock
	echo "setuptools==70.3.0" >> requirements/rasa.lock

clean:
	rm -rf $(VENV) $(VENV_RASA) var .rasa node_modules
