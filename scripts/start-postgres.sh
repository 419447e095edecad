#!/usr/bin/env bash
# Starts Debian's PostgreSQL cluster (installing it if needed) and prints a URL for a
# scratch database the tests may create tables in. Used by CI and by developers.
set -euo pipefail
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || { echo "postgresql not installed" >&2; exit 1; }
  apt-get install -y -qq --no-install-recommends postgresql >&2
fi
ver=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^$ver main$"; then
  pg_createcluster "$ver" main >&2
fi
pg_ctlcluster "$ver" main start >&2 2>/dev/null || true
for _ in $(seq 1 30); do pg_isready -q && break; sleep 0.5; done
pg_isready -q
runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_roles WHERE rolname='bodyworn'" | grep -q 1 ||
  runuser -u postgres -- psql -qc "CREATE ROLE bodyworn LOGIN PASSWORD 'bodyworn-test'" >&2
runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_database WHERE datname='bodyworn_test'" | grep -q 1 ||
  runuser -u postgres -- createdb -O bodyworn bodyworn_test >&2
port=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $3}')
echo "postgresql+psycopg://bodyworn:bodyworn-test@127.0.0.1:${port}/bodyworn_test"
