#!/usr/bin/env bash
# A throwaway PostgreSQL server for the tests: `pg_fixture.sh start DIR` runs initdb into DIR
# (as the postgres user when run as root: initdb refuses root), starts it on a free loopback port
# with its socket in DIR, creates a role and a database, and writes the URL to DIR/url.
# `pg_fixture.sh stop DIR` stops it and removes DIR. When the server cannot start, DIR/skip says why
# (the tests that need it then skip with that reason) and the script still exits 0.
set -uo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
start)
  rm -rf "$dir"
  mkdir -p "$dir"
  skip() { echo "$1" >"$dir/skip"; echo "pg_fixture: $1"; exit 0; }
  [ -n "$bin" ] || skip "PostgreSQL is not installed (scripts/setup.sh installs it)"
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || skip "no postgres user to run initdb as"
    chown postgres: "$dir"
  fi
  port=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
  as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    --no-sync -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || skip "initdb failed: $(tail -1 "$dir/initdb.log")"
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start \
    >"$dir/pg_ctl.log" 2>&1 || skip "the server did not start: $(tail -1 "$dir/pg.log")"
  psql -h "$dir" -p "$port" -U postgres -v ON_ERROR_STOP=1 -q \
    -c "CREATE ROLE hyphae LOGIN CREATEDB PASSWORD 'hyphae'" -c "CREATE DATABASE hyphae OWNER hyphae" \
    >"$dir/psql.log" 2>&1 || skip "cannot create the test role: $(tail -1 "$dir/psql.log")"
  echo "postgresql://hyphae:hyphae@127.0.0.1:$port/hyphae" >"$dir/url"
  echo "pg_fixture: $(cat "$dir/url")"
  ;;
stop)
  if [ -d "$dir/data" ]; then as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1; fi
  rm -rf "$dir"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2
  exit 2
  ;;
esac
