#!/usr/bin/env bash
# Install what is missing, then run lint, type checks, import layers and the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check src tests bench
.venv/bin/mypy
.venv/bin/lint-imports  # the layers of docs/architecture.md
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
