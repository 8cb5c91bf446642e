#!/usr/bin/env bash
# Set up (first run only) and run the whole test suite, then ruff.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh --test
.venv/bin/ruff check relouphone tests scripts
exec .venv/bin/python -m pytest -q "$@"
