# The two commands: `make run` (demo on http://127.0.0.1:8000) and `make test` (everything CI runs).
SHELL := /bin/bash

.PHONY: run test bench lint format messages

run:
	@scripts/run.sh

test:
	@scripts/test.sh

bench:
	@scripts/bench.sh

# Developer conveniences (make test runs the checks too).
lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

format:
	.venv/bin/ruff check --fix . && .venv/bin/ruff format .

# Refresh the zh-hans catalogue after changing translatable strings, then translate the new entries.
messages:
	.venv/bin/python manage.py makemessages -l zh_Hans --no-location --ignore=.venv --ignore=var --ignore=tests --ignore=bench
