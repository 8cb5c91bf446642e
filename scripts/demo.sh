#!/usr/bin/env bash
# Set up (first run only) and run `relouphone demo`: the whole loop on the simulated modem.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
exec .venv/bin/relouphone demo "$@"
