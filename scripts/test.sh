#!/usr/bin/env bash
# Install Pingan with its test extras and the two example plugins (examples/pingan-hello and
# examples/pingan-visits, which the plugin tests load through their entry points) into .venv and run the test suite.
# SQLite by default; set PINGAN_TEST_DATABASE_URL and PINGAN_TEST_REDIS_URL for the real services.
set -euo pipefail
cd "$(dirname "$0")/.."
# Bytecode is cached (__pycache__, git-ignored) even where the environment says not to: every
# pass, every server and CLI a test starts, and pytest's assertion rewriting of the ~400 modules
# of the installed distribution would otherwise compile them all again each time.
unset PYTHONDONTWRITEBYTECODE
source scripts/venv.sh
ensure_venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]' -e examples/pingan-hello -e examples/pingan-visits
# One worker per core (pytest-xdist), each with its own database and Redis db; a test file stays on
# one worker (its module fixtures are made once), the longest files first (tests/conftest.py
# LONG_FILES); the 25 slowest steps are listed at the end. Arguments after these win: -n 0 runs serially.
exec .venv/bin/python -m pytest -n auto --dist loadfile --no-loadscope-reorder --durations=25 "$@"
