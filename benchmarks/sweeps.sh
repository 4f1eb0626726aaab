#!/usr/bin/env bash
# One-at-a-time sweeps of our estimators' defaults (each run: 3-fold CV on five
# dev datasets capped at 5,000 rows; every other parameter at its default).
# Usage: bash benchmarks/sweeps.sh [--threads 1]   (after bash scripts/setup.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="higgs adult digits abalone wine_quality"
run() { "${PYTHON:-.venv/bin/python}" benchmarks/variants.py --datasets $DATA "$@"; }
run --param lr --values 0.0003 0.001 0.003 "$@"
run --param batch_size --values "'auto'" 64 256 1024 "$@"
run --param numeric_transform --values quantile standard "$@"
run --param d_token --values 16 32 64 "$@"
run --param n_blocks --values 1 2 3 "$@"
run --param dropout --values 0.0 0.1 0.2 "$@"
run --param pooling --values attention mean "$@"
run --param patience --values 5 10 20 "$@"
run --param weight_decay --values 1e-05 0.0001 0.01 "$@"
