#!/usr/bin/env bash
# Make sure PostgreSQL (with PostGIS available) and Redis answer on loopback; start them if not.
# Used by the test command and CI. Needs the Debian packages postgresql-15-postgis-3 and
# redis-server (CI installs them: see .ci/run).
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
if ! pg_up; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "starting PostgreSQL ..."
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
  pg_up || { echo "PostgreSQL is not reachable on 127.0.0.1:5432: start it, or set FIELDREP_TEST_POSTGRES_URL" >&2; exit 1; }
fi
if ! psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_available_extensions WHERE name='postgis'" postgres | grep -q 1; then
  echo "PostGIS is not installed for this PostgreSQL: apt-get install postgresql-15-postgis-3" >&2
  exit 1
fi

redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }
if ! redis_up; then
  echo "starting Redis ..."
  mkdir -p /var/lib/redis /var/log/redis 2>/dev/null || true
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || redis-server --daemonize yes --port 6379 --save ""
  for _ in $(seq 1 20); do redis_up && break; sleep 0.5; done
  redis_up || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }
fi
echo "services: PostgreSQL+PostGIS and Redis are up on 127.0.0.1"
