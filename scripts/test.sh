#!/usr/bin/env bash
# Install into .venv and run the linter and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
ruff check nervp tests benchmarks scripts
exec python -m pytest -q -n 2 --durations=15 "$@"
