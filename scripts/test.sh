#!/usr/bin/env bash
# The test command: installs fieldrep with its test extras into .venv, checks that PostgreSQL
# (PostGIS) and Redis run on loopback, and runs the whole suite against them.
# Extra arguments go to pytest (e.g. scripts/test.sh -k permissions).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FIELDREP_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e ".[test]"
scripts/services.sh
export FIELDREP_TEST_POSTGRES_URL="${FIELDREP_TEST_POSTGRES_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
export FIELDREP_TEST_REDIS_URL="${FIELDREP_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"
export FIELDREP_TEST_ROUTING_CACHE="${FIELDREP_TEST_ROUTING_CACHE:-$PWD/.fieldrep-cache/routing}"
exec "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@"
