# Two commands do all set-up: `make serve` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test test-fast lint typecheck unit bench docs clean browser screenshots redis

# Python's bytecode (and pytest's rewritten test modules) are cached under .venv even where the
# environment sets PYTHONDONTWRITEBYTECODE: without the cache every process compiles again each
# module it imports: every pytest worker and every sandbox a test serves.
CACHED_BYTECODE := PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/$(VENV)/pycache

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Flags for serve go in ARGS: make serve ARGS="--page-size 3 --log"
serve: $(STAMP)
	$(BIN)/dsco-sandbox serve $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy checks the package, then the tests one folder at a time: every test folder's conftest.py is a
# module named `conftest`, and one mypy run cannot hold two modules of the same name.
TEST_FOLDERS := $(sort $(dir $(wildcard tests/*/*.py)))
typecheck: $(STAMP)
	$(BIN)/mypy
	@status=0; for part in "$(wildcard tests/*.py)" $(TEST_FOLDERS); do \
	  printf '%s: ' "$$part"; $(BIN)/mypy $$part || status=1; \
	done; exit $$status

# pytest runs on PYTEST_WORKERS processes (pytest-xdist), more than the 2 cores CI has: many tests wait
# on a served sandbox, a browser or a subprocess. `--dist loadfile` keeps each test file on one
# worker, so a module's fixtures (a served sandbox, the browser) still start once; a session fixture
# (the redis-server, the reliability servers, the wheel) starts once per worker that needs it, each
# on a free port in a folder of its own. Files go out in collection order, where tests/conftest.py
# puts the long ones first (xdist would otherwise send the files with the most tests first, and the
# long files of few tests would run last, alone).
PYTEST_WORKERS ?= 4
unit: $(STAMP) browser redis
	$(CACHED_BYTECODE) HYPOTHESIS_PROFILE=ci \
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

# The console's browser tests (tests/browser) drive Debian's chromium through chromedriver. As root,
# install them when missing, refreshing the package lists only when the first try fails; elsewhere
# the tests say why they skip (and fail under CI=true).
BROWSER_PACKAGES := chromium chromium-driver
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $(BROWSER_PACKAGES) for the browser tests"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null && \
	      apt-get install -y -qq $(BROWSER_PACKAGES) >/dev/null; }; \
	  else \
	    echo "chromium is missing and this is not root: the browser tests will be skipped"; \
	  fi; \
	fi

# The shared-store tests (tests/redis) start their own redis-server from Debian's package on a free
# loopback port (the system service is never started), one of them over TLS with a certificate the
# openssl command makes. As root, install both when missing; elsewhere the tests say why they skip
# (and fail under CI=true).
redis:
	@if [ ! -x /usr/bin/redis-server ] || [ ! -x /usr/bin/openssl ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server and openssl for the shared-store tests"; \
	    export DEBIAN_FRONTEND=noninteractive; \
	    apt-get install -y -qq --no-install-recommends redis-server openssl >/dev/null 2>&1 || \
	    { apt-get update -qq >/dev/null && \
	      apt-get install -y -qq --no-install-recommends redis-server openssl >/dev/null; }; \
	  else \
	    echo "redis-server or openssl is missing and this is not root: the shared-store tests will be skipped"; \
	  fi; \
	fi

# Retake the console screenshots the README shows (docs/console-*.png) with the browser tests.
screenshots: $(STAMP) browser
	DSCO_SCREENSHOTS=docs $(BIN)/python -m pytest tests/browser -q

test: lint typecheck unit

# The inner loop: the domain, the contract, the in-process HTTP app and the layer rules, leaving out
# whatever starts a process (e2e) or runs long (slow); `make test` is the gate. More folders or
# flags: make test-fast FAST_PATHS="tests/domain tests/scenario" PYTEST_ARGS="-x -n 2".
FAST_PATHS ?= tests/domain tests/contract tests/http tests/test_architecture.py
test-fast: $(STAMP)
	$(CACHED_BYTECODE) \
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -q -m "not slow and not e2e" $(PYTEST_ARGS) $(FAST_PATHS)

# Performance, side by side with the peers (docs/performance.md); under 10 minutes on 2 cores.
# The HTTP runs are shorter than the full 3 x 10 s to fit: override with BENCH_HTTP_ARGS=.
BENCH_RESULTS := bench/results
BENCH_HTTP_ARGS ?= --duration 3 --repeat 3
BENCH_SCALING_ARGS ?= --budget 2
# The SQLite state at 0.3/13/100 MB, 20 kills and 10^6 messages takes 10-20 min alone on 2 busy cores.
BENCH_PERSISTENCE_ARGS ?=

bench: $(STAMP)
	@mkdir -p $(BENCH_RESULTS)
	$(BIN)/python bench/validation.py --json $(BENCH_RESULTS)/validation.json
	$(BIN)/python bench/startup.py --results-dir $(BENCH_RESULTS)
	$(BIN)/python bench/http_throughput.py --results-dir $(BENCH_RESULTS) $(BENCH_HTTP_ARGS)
	$(BIN)/python bench/scaling.py --results-dir $(BENCH_RESULTS) $(BENCH_SCALING_ARGS)
	$(BIN)/python bench/console.py --results-dir $(BENCH_RESULTS)
	$(BIN)/python bench/persistence.py --results-dir $(BENCH_RESULTS) $(BENCH_PERSISTENCE_ARGS)
	$(BIN)/python bench/report.py --results-dir $(BENCH_RESULTS)

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache .pytest_cache .hypothesis

docs: $(STAMP)
	$(BIN)/python docs/command_reference.py
