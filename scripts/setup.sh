#!/usr/bin/env bash
# Create .venv and install walletbot with pinned versions (constraints.txt).
# Usage: scripts/setup.sh            runtime only
#        scripts/setup.sh dev        plus test tools, sentence-transformers (CPU torch 2.13.0) and Chromium
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      PYTHON=$candidate; break
    fi
  done
fi
[ -n "$PYTHON" ] || { echo "error: Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "· creating .venv with $PYTHON"
  "$PYTHON" -m venv .venv
fi

extras=""
[ "${1:-}" = "dev" ] && extras="[dev]"
stamp=".venv/.installed${extras}"
up_to_date() { [ -f "$1" ] && [ ! pyproject.toml -nt "$1" ] && [ ! constraints.txt -nt "$1" ]; }
# A dev install includes the runtime one: the start command after the test command installs nothing.
if ! up_to_date "$stamp" && ! { [ -z "$extras" ] && up_to_date ".venv/.installed[dev]"; }; then
  echo "· installing walletbot${extras} (pinned by constraints.txt)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -c constraints.txt -e ".${extras}"
  touch "$stamp"
fi

# Browser tests drive Debian's Chromium; a CJK font makes Chinese render (and screenshots readable).
# `walletbot bench` loads the server with wrk (a C load generator) when it is installed.
if [ "${1:-}" = "dev" ] && { [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -i "noto sans cjk" >/dev/null || ! command -v wrk >/dev/null; }; then
  echo "· installing Chromium, a Chinese font and wrk for the browser tests and the benchmark (Debian packages)"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-noto-cjk wrk >/dev/null
fi
