#!/usr/bin/env bash
# Run host_demo with the plugin on SQLite and the bundled Stripe emulator.
# Open http://127.0.0.1:5000 and sign in with a login printed by the seed step.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e .
export FLASK_APP=host_demo
.venv/bin/flask init-db
.venv/bin/flask seed
exec .venv/bin/flask run --host "${HOST:-127.0.0.1}" --port "${PORT:-5000}"
