# Two commands on a fresh machine: `make run` (the main job) and `make test`.
# Everything else is here for developers; `make help` lists it.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup lock docs up down cluster-up cluster-down status run migrate test test-fast bench bench-quick soak wrk lint check clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# Installs are pinned by constraints.txt (every package, resolved once by `make lock`), so a
# fresh clone gets the versions the tests and benchmarks ran with; pyproject.toml keeps the
# ranges the code supports.
$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	@touch $@

setup: $(STAMP) ## create .venv and install the project with its dev tools (pinned)

lock: ## re-resolve the newest versions pyproject.toml allows into constraints.txt
	rm -rf var/lock-venv
	$(PYTHON) -m venv var/lock-venv
	var/lock-venv/bin/python -m pip install -q --upgrade pip
	var/lock-venv/bin/python -m pip install -q '.[dev]'
	{ echo "# Resolved by \`make lock\` on $$(date -u +%F) with $$($(PYTHON) --version); installed by make setup."; \
	  var/lock-venv/bin/python -m pip freeze --exclude visit-history; } > constraints.txt
	rm -rf var/lock-venv
	@echo "constraints.txt refreshed: review the diff, run make test, commit it"

up: $(STAMP) ## start Kafka and ClickHouse on loopback (idempotent)
	$(VENV)/bin/vh stack up

down: $(STAMP) ## stop Kafka and ClickHouse (and the loopback cluster, if it runs)
	$(VENV)/bin/vh stack down
	$(VENV)/bin/vh stack down --cluster

cluster-up: $(STAMP) ## start the loopback cluster: ZooKeeper, 3 Kafka nodes, 2 x 2 ClickHouse
	$(VENV)/bin/vh stack up --cluster

cluster-down: $(STAMP) ## stop the loopback cluster
	$(VENV)/bin/vh stack down --cluster

status: $(STAMP) ## show whether the local services run
	$(VENV)/bin/vh stack status

migrate: up ## create or upgrade the ClickHouse schema
	$(VENV)/bin/vh migrate

run: up ## the main job: stack + migrate + worker + API + demo traffic (Ctrl-C stops)
	$(VENV)/bin/vh run

test: up ## the whole test suite against the real services
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## only the tests that need no service
	$(VENV)/bin/pytest -m "not kafka and not clickhouse and not faults and not cluster" $(PYTEST_ARGS)

bench: up wrk ## benchmarks on the local stack; rewrites docs/benchmarks.md and docs/analytics.md
	$(PY) -m bench

bench-quick: up wrk ## the benchmarks in quick mode (smaller data, fewer repeats)
	$(PY) -m bench --quick

soak: up ## one worker fed for 20 minutes: its memory over a long run; rewrites docs/soak.md
	$(PY) -m bench.soak

# The API load generator of the benchmarks, from Debian.
wrk:
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -q wrk; } || { echo "make bench needs wrk: sudo apt-get install wrk"; exit 1; }

docs: $(STAMP) ## regenerate the README's configuration table and docs/schema.md
	$(VENV)/bin/vh schema-doc
	$(PY) -c "from pathlib import Path; from vh import settings; p = Path('README.md'); p.write_text(settings.rewrite(p.read_text()))"

lint: $(STAMP) ## format and fix lint in place
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: $(STAMP) ## lint and types, no fixes (what CI runs)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy enrich ingest query_api schemas deploy webhooks vh bench tests

clean: down ## stop services and delete var/ (data, logs, jar cache) and .venv
	rm -rf var $(VENV)
