#!/usr/bin/env bash
# `make bench`: start a private PostgreSQL and Redis (the Celery broker the webhook endpoint
# queues to), measure the two baselines (pgbench, a bare Django view through gunicorn) and every
# figure of bench/figures.py as a ratio to its baseline, print the table and write it under
# bench/results/. Arguments go to `python -m bench.run` (--duration, --only). Stops what it
# started, also on failure or Ctrl-C; exits non-zero when a measurement failed.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

apt_install postgresql-15 redis-server wrk || exit 1
venv_install requirements.txt || exit 1

WORK=$(mktemp -d /tmp/simdesk-bench.XXXXXX)
chmod 755 "$WORK" # the postgres user runs the server under it
cleanup() {
  services_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_start "$WORK/pg" || exit 1
redis_start "$WORK/redis" || exit 1
runuser -u postgres -- "$PG_BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres simdesk_bench ||
  exit 1

export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/simdesk_bench"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export BENCH_WORK="$WORK" PG_BIN

"$PY" -m bench.run "$@"
status=$?
exit "$status"
