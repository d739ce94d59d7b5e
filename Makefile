# Two commands: `make run` serves the gateway, `make test` runs the whole suite.
# Both create .venv and install what they need on first use (and again when requirements change).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
BIND ?= 0.0.0.0
WEB_CONCURRENCY ?= 2
TEST_PROCESSES ?= 2
export DJANGO_SETTINGS_MODULE := imagegen.settings
# glibc gives every thread that allocates a malloc arena of its own (up to 8 per core), each keeping what
# it freed: with two, a worker holds about 20 MiB less at rest and 50 MiB less with 1,000 requests in
# flight, for no measurable CPU (bench/README.md). The Dockerfile sets the same; set your own to override.
export MALLOC_ARENA_MAX ?= 2

.PHONY: run test setup lint format bench migrate fuzz

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime-installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime-installed

setup: $(VENV)/.runtime-installed
	$(BIN)/python manage.py migrate_once
	$(BIN)/python manage.py recover_ledger
	$(BIN)/python manage.py import_env
	$(BIN)/python manage.py ensure_superuser
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0

run: setup
	@echo ""
	@echo "imagegen is starting on port $(PORT) with $(WEB_CONCURRENCY) workers:"
	@echo "  API     http://localhost:$(PORT)/v1  (POST /v1/chat/completions, GET /v1/models)"
	@echo "  Admin   http://localhost:$(PORT)/admin/"
	@echo "  Playground http://localhost:$(PORT)/playground/  (staff: try models in the browser)"
	@echo "  Health  http://localhost:$(PORT)/health"
	@echo "  No admin user yet? Set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD (and"
	@echo "  DJANGO_SUPERUSER_EMAIL) before 'make run', or run: $(BIN)/python manage.py createsuperuser"
	@echo ""
	@# The worker class, the graceful timeout (SHUTDOWN_GRACE_SECONDS) and the worker timeout come
	@# from imagegen/gunicorn_config.py, which reads the gateway's settings.
	exec $(BIN)/gunicorn imagegen.asgi:application \
		--config python:imagegen.gunicorn_config \
		--workers $(WEB_CONCURRENCY) \
		--bind $(BIND):$(PORT) \
		--access-logfile -

test: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	ENV_FILE= $(BIN)/python manage.py makemigrations --check --dry-run
	$(BIN)/pytest -q -n $(TEST_PROCESSES) --dist loadfile

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.dev-installed
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(VENV)/.dev-installed
	$(BIN)/python bench/run.py

# Schemathesis against a live gateway (a fake vendor behind it) from its own /v1/openapi.json: at least
# 2,000 cases; fails on any 5xx, an answer the document does not describe, or a leaked key.
FUZZ_EXAMPLES ?= 300
fuzz: $(VENV)/.dev-installed
	$(BIN)/python -m tests.contract.fuzz --examples $(FUZZ_EXAMPLES) --min-cases 2000
