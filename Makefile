# Two commands on a fresh clone: `make run` and `make test` (see README.md).
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Rasa 3.6 needs Python < 3.11: find a python3.10 (PATH, pyenv, or Debian's).
PYTHON310 := $(shell for p in python3.10 $$HOME/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do \
	$$p -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RASA := $(BIN)/rasa
TRAINING := $(shell find data -name '*.yml' 2>/dev/null) domain.yml config.yml
MODEL_STAMP := models/.trained

export PYTHONDONTWRITEBYTECODE := 1
export TF_CPP_MIN_LOG_LEVEL := 2
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

.PHONY: help install db seed train run shell test test-billing test-assistant bench eval-nlu clean

help:
	@echo "make run    - everything up on the embedded defaults (demo accounts seeded)"
	@echo "make test   - the whole test suite (SQLite and a throw-away PostgreSQL)"
	@echo "make train | shell | bench | eval-nlu | clean"

$(STAMP): requirements.lock pyproject.toml
	@test -n "$(PYTHON310)" || { echo "Python 3.10 non trovato: installalo (Rasa 3.6 richiede Python < 3.11)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON310) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip<25" wheel
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps -e .
	touch $@

install: $(STAMP)

db: install
	$(BIN)/billing db upgrade

seed: db
	$(BIN)/billing demo seed

$(MODEL_STAMP): $(STAMP) $(TRAINING) $(shell find nlu_components -name "*.py" 2>/dev/null) actions/italian_numbers.py
	$(RASA) train --num-threads 2 --out models
	touch $@

train: $(MODEL_STAMP)

web/node_modules/socket.io-client: web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund --loglevel=error
	touch $@

run: seed train web/node_modules/socket.io-client
	$(BIN)/python scripts/run_stack.py

shell: seed train
	$(BIN)/python scripts/run_stack.py --shell

test: install
	bash scripts/test.sh

bench: install train
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/bench_nlu.py

eval-nlu: install
	$(BIN)/python scripts/eval_nlu.py

clean:
	rm -rf $(VENV) models var results .pytest_cache web/node_modules
