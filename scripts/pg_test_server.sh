#!/usr/bin/env bash
# A throw-away PostgreSQL server for the test suite: loopback only, data in a temp folder.
#   scripts/pg_test_server.sh start DIR PORT   -> prints the SQLAlchemy URL of database "billing_test"
#   scripts/pg_test_server.sh stop DIR
# Installs Debian's postgresql package when its binaries are missing (CI starts from nothing).
set -euo pipefail
action=$1; dir=$2; port=${3:-54329}

pg_bin() {
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
  if [ -z "$found" ] || [ ! -x "$found/initdb" ]; then
    echo "pg_test_server: installing PostgreSQL (Debian package)..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
    found=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  echo "$found"
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$action" in
  start)
    bin=$(pg_bin)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
      chown postgres:postgres "$dir"
      chmod a+x "$(dirname "$dir")"  # mktemp -d makes 0700 folders the postgres user cannot enter
    fi
    as_postgres "$bin/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
    as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    as_postgres "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres billing_test
    echo "postgresql+psycopg2://postgres@127.0.0.1:$port/billing_test"
    ;;
  stop)
    bin=$(pg_bin)
    [ -d "$dir/data" ] && as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null || true
    rm -rf "$dir"
    ;;
  *) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
