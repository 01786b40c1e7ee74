# Ervaringswijzer: `make run` for a first look, `make test` for the whole suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_DATABASE_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
export TEST_DATABASE_URL

.PHONY: install run demo test lint format translations clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP) translations

# Compile the nl/en catalogues (the .mo files are build output, not committed).
translations: $(STAMP)
	$(BIN)/pybabel -q compile -d survey/translations

# A first look: install, migrate, load the synthetic demo region once, serve on 127.0.0.1:5000.
run: install
	ERVARINGSWIJZER_DEMO=1 $(BIN)/ervaringswijzer db upgrade
	ERVARINGSWIJZER_DEMO=1 $(BIN)/ervaringswijzer demo --if-empty
	ERVARINGSWIJZER_DEMO=1 $(BIN)/ervaringswijzer run --host 127.0.0.1 --port 5000

test: install
	$(BIN)/python -m pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) instance .pytest_cache .ruff_cache
