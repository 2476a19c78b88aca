#!/usr/bin/env bash
# Deploy the example environment and show it working: an item goes in through
# the web front end, is stored by the API in Postgres, and the worker
# processes it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

ENV=${DOCKYARD_DEMO_ENV:-local}
URL=${DOCKYARD_DEMO_URL:-http://127.0.0.1:8080}
dockyard() { .venv/bin/dockyard -C examples/platform "$@"; }

dockyard deploy "$ENV"
.venv/bin/python scripts/demo_check.py "$URL"

echo
dockyard status "$ENV"
echo
echo "The example runs at $URL"
echo "Stop it with 'make down' (the database volume stays;"
echo "'.venv/bin/dockyard -C examples/platform down $ENV --volumes' removes it too)."
