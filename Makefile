# Thin wrapper: the `portal` CLI is the real interface.
.PHONY: up test setup lint protos

setup:
	./scripts/setup.sh

up: setup
	.venv/bin/portal up

test: setup
	./scripts/test.sh

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .
