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

# The example's secrets (database password, the workers' token), encrypted for
# an age key made on this machine where missing: never committed.
SOPS_AGE_KEY_FILE=$(.venv/bin/python scripts/example_secrets.py examples/platform "$ENV")
export SOPS_AGE_KEY_FILE

dockyard deploy "$ENV"
.venv/bin/python scripts/demo_check.py "$URL"

echo
dockyard status "$ENV"
echo
echo "The example runs at $URL"
echo "Its secrets: 'dockyard secrets list $ENV' (with SOPS_AGE_KEY_FILE=$SOPS_AGE_KEY_FILE"
echo "to deploy or read them yourself)."
echo "Stop it with 'make down' (the database volume stays;"
echo "'.venv/bin/dockyard -C examples/platform down $ENV --volumes' removes it too)."
