#!/usr/bin/env bash
# The demo command: installs fieldrep into .venv and runs `fieldrep demo` (SQLite in your data
# folder, in-process event bus, the bundled Liechtenstein road network), serving 127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${FIELDREP_VENV:-.venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -c constraints.txt -e .
exec "$VENV/bin/fieldrep" demo "$@"
