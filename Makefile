# The front door. Needs only Python 3.11+ and make; everything else goes into .venv.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: run keys test lint check-data client bench profile clean

run: $(INSTALLED)  ## serve the API on PORT (3000) and deliver webhooks, on embedded PostgreSQL unless DATABASE_URL is set
	@$(PY) -m tools.devserver

keys: $(INSTALLED)  ## API keys on the database `make run` uses: ARGS='create NAME --scope write --calendars "*"' (revoke, rotate, list)
	@$(PY) -m tools.keys

test: lint  ## the whole suite (embedded PostgreSQL, or TEST_DATABASE_URL)
	$(PY) -m pytest

lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(PY) -m tools.audit

check-data: $(INSTALLED)  ## verify the book's invariants on DATABASE_URL
	$(PY) -m tools.integrity

client: $(INSTALLED)  ## regenerate the typed Python client in clients/python from the document
	$(PY) -m tools.export_openapi clients/openapi.json
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/openapi-python-client generate --path clients/openapi.json --output-path clients/python --overwrite --meta pdm --config clients/config.yml

bench: $(INSTALLED)  ## wrk + pgbench figures into bench/results/ (needs wrk; BENCH_QUICK=1: smoke test)
	$(PY) -m bench

profile: $(INSTALLED)  ## one bench scenario under py-spy: SCENARIO=read_id (create, read_list, mixed...)
	$(PY) -m bench.profile $(SCENARIO)

$(INSTALLED): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
