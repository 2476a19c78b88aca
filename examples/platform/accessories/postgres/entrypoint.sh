#!/bin/sh
# Start Postgres with the role's password taken from the file named by
# POSTGRES_PASSWORD_FILE (a secret under /run/secrets), or from POSTGRES_PASSWORD.
#
# The password is set in single-user mode before the server listens, so no
# client can connect while the role still has an old password or none.
set -eu

# Read as root (the secret's file is root's, mode 0400), then handed on to the
# postgres user's run of this script in the process environment only.
if [ -n "${POSTGRES_PASSWORD_FILE:-}" ] && [ "$(id -u)" = 0 ]; then
    if ! POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE"); then
        echo "postgres: cannot read POSTGRES_PASSWORD_FILE ($POSTGRES_PASSWORD_FILE)" >&2
        exit 2
    fi
    export POSTGRES_PASSWORD
    unset POSTGRES_PASSWORD_FILE
fi

if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres: no password: set POSTGRES_PASSWORD_FILE (or POSTGRES_PASSWORD)" >&2
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

# One server per data folder. PostgreSQL's own guard, postmaster.pid, names a
# PID in this container's PID namespace: a server in another container on the
# same volume cannot see that process, takes the file for a stale one and
# starts anyway, and two servers on one cluster destroy it. An flock on a file
# in the volume is seen by every container on this host. The lock is taken on
# file descriptor 9, which Postgres inherits through `exec` and keeps open for
# its whole life, so it is released only when the server is gone.
exec 9>>"$PGDATA/dockyard-server.lock"
if ! flock --nonblock 9; then
    echo "postgres: another server is running on $PGDATA; waiting up to ${POSTGRES_LOCK_WAIT:-30}s for it to stop" >&2
    if ! flock --timeout "${POSTGRES_LOCK_WAIT:-30}" 9; then
        echo "postgres: another server still runs on $PGDATA; not starting a second one" >&2
        exit 1
    fi
fi

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
