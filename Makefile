# Shaping Lab: `make run` sets everything up and serves; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# run-prod's workers: two per core on the 2-core lab machines (docs/deploy.md, Load)
WORKERS ?= 4

.PHONY: install run run-prod migrate seed test test-services clean

# The virtual environment is rebuilt whenever requirements.txt changes.
$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo --base-url http://$(HOST):$(PORT)

run: seed
	@echo "Serving on http://$(HOST):$(PORT)/ (Ctrl-C to stop)"
	$(PY) -m daphne -b $(HOST) -p $(PORT) webapp.asgi:application

# Production (docs/deploy.md): PostgreSQL, Redis, DEBUG off, several workers on one port behind a
# TLS-terminating reverse proxy. Secrets and hosts come from the environment.
PROD_ENV := DATABASE_URL REDIS_URL DJANGO_SECRET_KEY DJANGO_ALLOWED_HOSTS
run-prod: install
	@for name in $(PROD_ENV); do if [ -z "$$(printenv $$name)" ]; then \
	  echo "make run-prod: set $$name (see docs/deploy.md)" >&2; exit 2; fi; done
	DJANGO_DEBUG=0 $(PY) manage.py check --deploy
	DJANGO_DEBUG=0 $(PY) manage.py migrate --noinput
	DJANGO_DEBUG=0 $(PY) manage.py collectstatic --noinput --verbosity 0
	DJANGO_DEBUG=0 $(PY) -m webapp.serve --workers $(WORKERS) --bind $(HOST):$(PORT) --proxy-headers

# The embedded default: SQLite and the in-memory channel layer.
test: install
	$(PY) -m pytest

# The same suite against the local PostgreSQL and Redis.
test-services: install
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} \
	REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} $(PY) -m pytest

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
