#!/usr/bin/env bash
# Start a PostgreSQL server from Debian's packages for the tests (installing it when missing) and print the
# SQLAlchemy URL of a database the tests may create databases from. Idempotent: a second call reuses it.
set -euo pipefail
log() { echo "[postgres] $*" >&2; }
if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  log "installing postgresql from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
fi
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main"' | grep -q .; then
  pg_createcluster "$ver" main >&2
fi
if ! pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" && $4=="online"' | grep -q .; then
  pg_ctlcluster "$ver" main start >&2
fi
port=$(pg_lsclusters -h | awk -v v="$ver" '$1==v && $2=="main" {print $3}')
for _ in $(seq 1 50); do
  su postgres -c "psql -p $port -qAtc 'select 1'" >/dev/null 2>&1 && break
  sleep 0.2
done
su postgres -c "psql -p $port -qAt" >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mlp_test') THEN
    CREATE ROLE mlp_test LOGIN CREATEDB PASSWORD 'mlp_test';
  END IF;
END \$\$;
SQL
su postgres -c "psql -p $port -qAtc \"SELECT 1 FROM pg_database WHERE datname='mlp_test'\"" | grep -q 1 \
  || su postgres -c "createdb -p $port -O mlp_test mlp_test" >&2
echo "postgresql+psycopg://mlp_test:mlp_test@127.0.0.1:$port/mlp_test"
