#!/usr/bin/env bash
# Install Pingan into .venv and run it on the embedded default (SQLite + in-process worker)
# with the demo county loaded: every built-in module on and a year of activity on a first
# start (docs/demo.md). Open http://127.0.0.1:8000/ afterwards; the log-in page lists the accounts.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/venv.sh
ensure_venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/pingan demo "$@"
