#!/usr/bin/env bash
# Install into .venv and run the main job: `nervp demo` on the built-in virtual light stage.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec nervp demo "$@"
