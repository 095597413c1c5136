#!/usr/bin/env bash
# Create (or update) the project's virtualenv in .venv and install nervp into it.
# PyTorch is installed first, pinned, so no other package can pull a different (CUDA) build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# The browser tests of `nervp view` (tests/view) drive Debian's headless Chromium through selenium;
# they skip when it is absent. Install it where we can (root on Debian/Ubuntu).
if { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; } && [ "$(id -u)" = 0 ] \
    && command -v apt-get >/dev/null; then
  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
. .venv/bin/activate
stamp=.venv/.nervp-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements.lock -nt "$stamp" ]; then
  python -m pip install -q --upgrade pip
  python -m pip install -q "torch==2.13.0"
  python -m pip install -q -c requirements.lock -e ".[dev]"
  touch "$stamp"
fi
