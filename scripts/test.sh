#!/usr/bin/env bash
# Set everything up, then run lint and the test suite (slow tests excluded;
# pass -m slow to run them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check sk_tabattn tests benchmarks
.venv/bin/ruff format --check sk_tabattn tests benchmarks
.venv/bin/python -m pytest -q "$@"
