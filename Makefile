# Library lending service. `make run` and `make test` are all a new developer needs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

.PHONY: help venv run local token test prerequisites test-unit test-integration test-e2e lint reconcile jobs migrate clean mail

help:
	@echo "make run        service on embedded defaults (PostgreSQL, localstripe, OIDC mock, demo books)"
	@echo "make test       lint, types and the whole test suite"
	@echo "make test-unit  the unit tier alone (no I/O, seconds); also test-integration, test-e2e"
	@echo "make local      plain 'chalice local' with your own settings"
	@echo "make token USER=alice [LIBRARIAN=1]   an ID token from the local OIDC provider"
	@echo "make reconcile  settle payments left between steps"
	@echo "make jobs [JOBS='reconcile retention']   run every due job once (or the named ones now)"
	@echo "make migrate    apply database migrations to DATABASE_URL"
	@echo "make mail       list the mail make run's embedded SMTP server kept in .run/mail"
	@echo "make import FILE=catalogue.mrc [FORMAT=marc|marcxml|csv]   import a catalogue file"
	@echo "make bench      benchmarks (also bench-search, bench-import); make mutate  mutation testing"

$(STAMP): requirements.txt requirements-dev.txt layers/*/requirements.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade "pip<26.3"  # chalice 1.34 requires pip<26.3
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) dev/install_paths.py
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(PY) -m dev.run

local: $(STAMP)
	$(VENV)/bin/chalice local --no-autoreload --host $(HOST) --port $(PORT)

token: $(STAMP)
	@$(PY) -m dev.tokens $(USER) $(if $(LIBRARIAN),--librarian,)

migrate: $(STAMP)
	$(PY) -m ops.migrate

# Uses your settings, or those of a running `make run` (.run/dev.env) when DATABASE_URL is unset.
reconcile: $(STAMP)
	@if [ -z "$$DATABASE_URL" ] && [ -f .run/dev.env ]; then set -a; . ./.run/dev.env; set +a; fi; \
	$(PY) -m ops.reconcile $(if $(GRACE),--grace-seconds $(GRACE),)

# The scheduled jobs (docs/jobs.md), once: every due one, or JOBS="retention ..." now. Settings as for reconcile.
jobs: $(STAMP)
	@if [ -z "$$DATABASE_URL" ] && [ -f .run/dev.env ]; then set -a; . ./.run/dev.env; set +a; fi; \
	$(PY) -m ops.jobs $(JOBS)

mail: $(STAMP)
	@$(PY) -m dev.mail_server list --dir .run/mail

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

# The tiers: unit (no I/O: use cases and handlers on the fakes, in seconds), integration (each
# adapter against the real thing), end to end (HTTP through each host). `make test` runs them all.
UNIT := tests/unit
INTEGRATION := tests/contract $(wildcard tests/integration) tests/auth tests/infra
E2E := tests/e2e tests/api tests/vm tests/ui tests/deploy

test-unit: $(STAMP)
	$(PY) -m pytest $(UNIT) -q

test-integration: $(STAMP)
	$(PY) -m pytest $(INTEGRATION) -q

test-e2e: $(STAMP)
	$(PY) -m pytest $(E2E) -q

# Areas add their own targets in mk/*.mk and append checks to TEST_CHECKS.
TEST_CHECKS :=
-include mk/*.mk

# First the machine: the Debian packages in .ci/apt-packages (installed as root with apt, else named
# with the command that installs them). Standard library only, so it runs before the venv exists.
prerequisites:
	@python3 -m dev.prerequisites --python $(PYTHON) --venv $(VENV)

# LENDING_NO_SKIPS=1: a skipped test fails the run (tests/support/skips.py), so nothing is left out silently.
test: prerequisites lint $(TEST_CHECKS)
	LENDING_NO_SKIPS=1 $(PY) -m pytest tests -q
ifneq ($(filter test,$(MAKECMDGOALS)),)
$(STAMP) lint $(TEST_CHECKS): | prerequisites  # the machine first, also under make -j
endif

clean:
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache
