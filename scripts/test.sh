#!/usr/bin/env bash
# Install everything (test tools, Chromium), lint, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# Lint and format first: they take seconds and fail with the file and line to fix.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest -n 2 "$@"
