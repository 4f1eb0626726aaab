#!/usr/bin/env bash
# Set everything up, then run lint, type checks and the test suite. Slow tests are
# left out locally (pass -m slow to run them) and included in CI (CI=true), where
# the time limit leaves room for them; CI then also runs the default suite on the
# oldest dependency releases pyproject.toml admits (scripts/test_oldest.sh).
# Tests run in one process per core (pytest-xdist): each test trains on one torch
# thread (conftest.py), so a single process would leave the other cores idle.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check sk_tabattn tests benchmarks
.venv/bin/ruff format --check sk_tabattn tests benchmarks
.venv/bin/mypy  # the package's type hints (setup.cfg [mypy])
if [ "${CI:-}" = "true" ]; then
    set -- -m "slow or not slow" "$@"
fi
.venv/bin/python -m pytest -q -n "${PYTEST_WORKERS:-$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)}" "$@"
if [ "${CI:-}" = "true" ]; then
    bash scripts/test_oldest.sh
fi
