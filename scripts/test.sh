#!/usr/bin/env bash
# Install everything (test tools, Chromium) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
exec .venv/bin/python -m pytest -n 2 "$@"
