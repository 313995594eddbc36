#!/usr/bin/env bash
# Install, train if needed, and serve the product on its embedded defaults (SQLite, bundled data).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/walletbot serve "$@"
