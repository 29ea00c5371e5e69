#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests that run on the PostgreSQL backend. Sourced by
# scripts/test.sh (after setup.sh, whose `say` and `as_root` it uses):
#   pg_start   installs Debian's postgresql when it is missing, makes a new cluster in a temporary
#              directory, starts it on a free loopback port and exports
#              TESSERA_TEST_DATABASE_URL (its superuser; each test makes and drops its own
#              database, so runs never see each other's rows) and TESSERA_TEST_DATABASE_CA (the
#              self-signed certificate it serves TLS with, for the tests of TLS to the database);
#   pg_stop    stops it and deletes its directory (test.sh calls it from its EXIT trap).
# PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` user the
# package creates. Durability settings are off (fsync, full-page writes): the tests kill Tessera
# servers, never the cluster, and a test database is thrown away.
PG_DIR=""

pg_bin() {
  # The newest installed major version (Debian installs each under its own directory).
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

# Runs a command as the cluster's owner.
pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_start() {
  if [ -z "$(pg_bin)" ]; then
    say "installing PostgreSQL from Debian (for the tests on the PostgreSQL backend)"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  fi
  local bin port tries=0
  bin="$(pg_bin)"
  PG_DIR="$(mktemp -d)"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_DIR"
  fi
  pg_as_owner "$bin/initdb" -D "$PG_DIR/db" -A trust -U postgres --no-sync >"$PG_DIR/initdb.log"
  # TLS on, with a certificate for the address the tests connect to (openssl comes with the
  # postgresql package, through ssl-cert).
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
    -keyout "$PG_DIR/server.key" -out "$PG_DIR/server.crt" 2>/dev/null
  chmod 600 "$PG_DIR/server.key"
  if [ "$(id -u)" = 0 ]; then
    chown postgres "$PG_DIR/server.key" "$PG_DIR/server.crt"
  fi
  while :; do
    port=$((20000 + RANDOM % 30000))
    if pg_as_owner "$bin/pg_ctl" -D "$PG_DIR/db" -l "$PG_DIR/log" -w -t 30 start \
      -o "-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=300 -c ssl=on -c ssl_cert_file=$PG_DIR/server.crt -c ssl_key_file=$PG_DIR/server.key" \
      >/dev/null; then
      break
    fi
    tries=$((tries + 1))
    if [ "$tries" -ge 5 ]; then
      echo "PostgreSQL did not start; its log:" >&2
      cat "$PG_DIR/log" >&2
      return 1
    fi
  done
  export TESSERA_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
  export TESSERA_TEST_DATABASE_CA="$PG_DIR/server.crt"
  say "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') for the tests on 127.0.0.1:$port"
}

pg_stop() {
  if [ -n "$PG_DIR" ] && [ -d "$PG_DIR/db" ]; then
    pg_as_owner "$(pg_bin)/pg_ctl" -D "$PG_DIR/db" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  if [ -n "$PG_DIR" ]; then
    rm -rf "$PG_DIR"
  fi
  PG_DIR=""
}
