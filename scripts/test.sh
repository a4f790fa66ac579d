#!/usr/bin/env bash
# Set up the locked environment and run every check: lint, format, strict types, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install --quiet --disable-pip-version-check uv
# Real brokers for the integration tests (Redis, RabbitMQ; the SQS stand-in comes with uv sync).
bash scripts/install-brokers.sh
# Strict types first as the README's plain set-up leaves them (no dask extra), then with the extra.
python3 -m uv sync --frozen --quiet
python3 -m uv run --frozen mypy
python3 -m uv sync --frozen --quiet --extra dask
python3 -m uv run --frozen ruff check .
python3 -m uv run --frozen ruff format --check .
python3 -m uv run --frozen mypy
python3 -m uv run --frozen pytest "$@"
