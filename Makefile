# deskflow: `make run` for a working local system, `make test` for the whole suite.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PG_TESTS := tests/activities/test_tdx_rate_windows.py tests/workflows tests/batches tests/schedules tests/web/test_api.py tests/web/test_configs.py tests/web/test_config_tickets.py tests/itsm tests/web/test_sla_page.py

.PHONY: install run test bench lint clean browser-check

$(BIN)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q -U pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/deskflow dev

# The whole suite on SQLite, then the database-heavy parts again on PostgreSQL. Most of a
# test's time is spent waiting on a Temporal server, so the suite runs in 4 processes (each
# with its own servers). ALONE runs after it, one test at a time: the system tests measure
# rates and kill processes, the continue-as-new test follows a ticket across runs in
# real time, which a starved time-skipping server answers too late, and the README's
# "Try it" walk runs a whole `deskflow dev` (on its own ports) for minutes.
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider
ALONE := tests/system tests/workflows/test_continue_as_new.py tests/web/test_try_it.py
test: install browser-check
	$(BIN)/ruff check .
	$(PYTEST) -n 4 $(addprefix --ignore=,$(ALONE))
	$(PYTEST) --durations=20 $(ALONE)
	DESKFLOW_TEST_DB=postgresql $(PYTEST) -n 4 $(addprefix --ignore=,$(ALONE)) $(PG_TESTS)

# The browser tests drive Debian's chromium; without it they would prove nothing, so the suite
# refuses to start (DESKFLOW_SKIP_BROWSER=1 skips them on purpose; .ci/run installs chromium).
browser-check:
	@command -v "$${DESKFLOW_CHROMIUM:-chromium}" >/dev/null || [ "$$DESKFLOW_SKIP_BROWSER" = 1 ] || \
	  { echo "make test: chromium is missing; install it: apt-get install -y chromium" \
	    "(or set DESKFLOW_SKIP_BROWSER=1 to skip the browser tests)" >&2; exit 1; }

bench: install
	$(BIN)/deskflow bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf var .pytest_cache test-output
