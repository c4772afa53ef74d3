#!/bin/bash
# Entrypoint of the PostgreSQL stand-in image (postgres.Dockerfile): on first start, initdb with
# POSTGRES_USER as superuser (password POSTGRES_PASSWORD, required) and POSTGRES_DB created,
# password authentication from other hosts; then the server, as the postgres user, listening on
# every interface. Like the official image's entrypoint, for what docker-compose.yml uses.
set -euo pipefail

if [ "${1:-}" != postgres ]; then
  exec "$@"
fi
shift

: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
PGDATA=${PGDATA:-/var/lib/postgresql/data}
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
as_postgres=(setpriv --reuid postgres --regid postgres --init-groups)

mkdir -p "$PGDATA" /var/run/postgresql
chown postgres:postgres "$PGDATA" /var/run/postgresql
chmod 700 "$PGDATA"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  password_file=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$password_file"
  chown postgres "$password_file"
  "${as_postgres[@]}" "$bin/initdb" -D "$PGDATA" -U "$user" --pwfile="$password_file" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
  rm -f "$password_file"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  if [ "$db" != postgres ]; then
    # Single-user mode: no server is listening yet, so nobody can connect before this is done.
    echo "CREATE DATABASE \"$db\" OWNER \"$user\";" | "${as_postgres[@]}" "$bin/postgres" --single -D "$PGDATA" -j postgres >/dev/null
  fi
  echo "postgres-entrypoint: initialized $PGDATA (user $user, database $db)"
fi

exec "${as_postgres[@]}" "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/var/run/postgresql "$@"
