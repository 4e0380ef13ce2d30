# deskflow: `make run` for a working local system, `make test` for the whole suite.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PG_TESTS := tests/activities/test_tdx_rate_windows.py tests/activities/test_slack_post_once.py tests/workflows tests/batches tests/schedules tests/web/test_api.py tests/web/test_configs.py tests/web/test_config_tickets.py tests/itsm tests/web/test_sla_page.py

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
# with its own servers). SLOW runs after it, in two steps. ALONE, one test at a time: the
# system tests that count calls per TDX rate window, time settle windows against a stand-in
# sharing their event loop, or crash a worker with every timing they have (the worker crash
# test), and the continue-as-new test (it follows a ticket across runs in real time, which
# a time-skipping server starved by its neighbours answers too late); a new file in
# tests/system lands here. QUIET, three lanes at once (tests/lanes.sh; about one core's work
# between them: they mostly wait on real time, and measure nothing a neighbour's load could
# bend): the README's "Try it" walk (a whole `deskflow dev` on its own ports, for minutes);
# the outage test (counts, no rate; it kills only the worker it started); and, one after
# another, the projection crash, the submit bench's smoke run and, last, the after-hours
# restart (a real one-minute timer, due when the walk only waits for slot discovery).
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider
SLOW := tests/system tests/workflows/test_continue_as_new.py tests/web/test_try_it.py
WALK := tests/web/test_try_it.py
OUTAGE := tests/system/test_outage_resolution.py
WAITING := tests/system/test_projection_crash.py tests/system/test_bench_submit_smoke.py \
	tests/system/test_after_hours_restart.py
test: install browser-check
	$(BIN)/ruff check .
	$(PYTEST) -n 4 $(addprefix --ignore=,$(SLOW))
	$(PYTEST) --durations=20 $(addprefix --ignore=,$(OUTAGE) $(WAITING)) tests/system \
	  tests/workflows/test_continue_as_new.py
	PYTEST="$(PYTEST) --durations=5" tests/lanes.sh "$(WALK)" "$(OUTAGE)" "$(WAITING)"
	DESKFLOW_TEST_DB=postgresql $(PYTEST) -n 4 $(addprefix --ignore=,$(SLOW)) $(PG_TESTS)

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
