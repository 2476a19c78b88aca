#!/bin/sh
# Start Postgres with the role's password taken from POSTGRES_PASSWORD.
#
# The password is set in single-user mode before the server listens, so no
# client can connect while the role still has an old password or none.
set -eu

if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres: POSTGRES_PASSWORD is empty; set it in the accessory's env" >&2
    exit 2
fi

# Started as root: make the data folder Postgres's own (a volume mounted
# without the image's data is empty and owned by root), then run this script
# again as the postgres user.
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA"
    if [ "$(stat -c %U "$PGDATA")" != postgres ]; then
        chown postgres:postgres "$PGDATA"
        chmod 0700 "$PGDATA"
    fi
    exec setpriv --reuid=postgres --regid=postgres --init-groups /bin/sh "$0" "$@"
fi

# An empty data folder (a bind mount, or a volume made with nocopy): create
# the cluster now.
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    echo "postgres: no cluster in $PGDATA, creating one"
    sh /usr/local/lib/postgres/initdb.sh
fi

# Single-user Postgres runs as a direct child of this shell (PID 1), so a
# postmaster.pid left by a killed container (which names PID 1 too) is seen
# as stale, exactly as when the server itself starts as PID 1 below.
password=$(printf '%s' "$POSTGRES_PASSWORD" | sed "s/'/''/g")
out=$(mktemp)
status=0
postgres --single -D "$PGDATA" -c log_statement=none postgres >"$out" 2>&1 <<SQL || status=$?
ALTER ROLE "$POSTGRES_USER" WITH LOGIN PASSWORD '$password';
SQL
if [ "$status" -ne 0 ] || grep -q 'ERROR' "$out"; then
    echo "postgres: could not set the password of role $POSTGRES_USER" >&2
    grep -v PASSWORD "$out" >&2 || true
    rm -f "$out"
    exit 1
fi
rm -f "$out"
unset POSTGRES_PASSWORD password

echo "postgres: starting, database $POSTGRES_DB, role $POSTGRES_USER"
exec postgres -D "$PGDATA" "$@"
