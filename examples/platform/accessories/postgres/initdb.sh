#!/bin/sh
# Create the cluster in $PGDATA: the application role and database, TCP on
# every interface of the container, and password (SCRAM) authentication for
# every TCP client. The role gets its password when the server starts.
set -eu

initdb --pgdata="$PGDATA" --username=postgres --encoding=UTF8 --locale=C.UTF-8 \
    --auth-local=peer --auth-host=scram-sha-256 >/dev/null

cat >>"$PGDATA/postgresql.conf" <<CONF

# --- example environment ---
listen_addresses = '*'
password_encryption = scram-sha-256
unix_socket_directories = '/var/run/postgresql'
log_destination = 'stderr'
logging_collector = off
CONF

cat >"$PGDATA/pg_hba.conf" <<HBA
# TYPE  DATABASE  USER  ADDRESS    METHOD
local   all       all              peer
host    all       all   0.0.0.0/0  scram-sha-256
host    all       all   ::/0       scram-sha-256
HBA

postgres --single -D "$PGDATA" postgres >/dev/null <<SQL
CREATE ROLE "$POSTGRES_USER" LOGIN;
CREATE DATABASE "$POSTGRES_DB" OWNER "$POSTGRES_USER";
SQL
