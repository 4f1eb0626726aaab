#!/usr/bin/env bash
# Run the default test suite against the oldest dependency releases that
# pyproject.toml admits (scripts/oldest-constraints.txt), in .venv-oldest/.
# scripts/test.sh runs it in CI (CI=true); extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV=.venv-oldest
if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" --upgrade pip
"${PIP[@]}" "torch==2.13.0"  # the CPU build first, as in scripts/setup.sh
"${PIP[@]}" -c scripts/oldest-constraints.txt -e ".[test]"
"$VENV/bin/python" -m pip list --disable-pip-version-check 2>/dev/null |
    grep -iE '^(numpy|pandas|scikit-learn|scipy|skorch|torch) '
"$VENV/bin/python" -m pytest -q -n "${PYTEST_WORKERS:-$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)}" "$@"
