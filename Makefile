# deskflow: `make run` for a working local system, `make test` for the whole suite.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PG_TESTS := tests/workflows tests/batches tests/schedules tests/web/test_api.py tests/itsm tests/web/test_sla_page.py

.PHONY: install run test bench lint clean

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/deskflow dev

# The whole suite on SQLite, then the database-heavy parts again on PostgreSQL.
test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -p no:cacheprovider
	DESKFLOW_TEST_DB=postgresql $(BIN)/python -m pytest -q -p no:cacheprovider $(PG_TESTS)

bench: install
	$(BIN)/deskflow bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf var .pytest_cache test-output
