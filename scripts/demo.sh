#!/usr/bin/env bash
# Set everything up, then run the demo: cross-validated scores of several
# attention types beside a plain 1D-CNN on a bundled real dataset, and the
# fitted pipeline saved to demo_output/model.joblib.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/sk-tabattn demo "$@"
