#!/usr/bin/env bash
# Install everything (test tools, Chromium), lint, type-check, and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# Lint, format and types first: quicker than the tests (mypy caches in .mypy_cache), and each
# fails with the file and line to fix.
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy  # files and strictness per module: [tool.mypy] in pyproject.toml
exec .venv/bin/python -m pytest -n 2 "$@"
