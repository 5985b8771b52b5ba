#!/usr/bin/env bash
# `make test`: install what is missing, start private PostgreSQL and Redis, run every check,
# stop what was started (also on failure or Ctrl-C), exit non-zero when any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

apt_install postgresql-15 redis-server chromium fonts-wqy-microhei gettext || exit 1
venv_install requirements-dev.txt || exit 1

WORK=$(mktemp -d /tmp/simdesk-test.XXXXXX)
chmod 755 "$WORK"
cleanup() {
  services_stop
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_start "$WORK/pg" || exit 1
redis_start "$WORK/redis" || exit 1
localstripe_start "$WORK/localstripe" || exit 1
runuser -u postgres -- "$PG_BIN/createdb" -h 127.0.0.1 -p "$PGPORT" -U postgres simdesk

export DJANGO_SETTINGS_MODULE=config.settings.test
export DATABASE_URL="postgres://postgres@127.0.0.1:$PGPORT/simdesk"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
export CACHE_URL="redis://127.0.0.1:$REDIS_PORT/1"
# The Stripe gateway's tests use the localstripe started above (they skip without it).
export STRIPE_TEST_API_BASE

failed=()
step() {
  local name=$1
  shift
  log "$name"
  "$@" || failed+=("$name")
}

step "ruff check" "$VENV/bin/ruff" check .
step "ruff format --check" "$VENV/bin/ruff" format --check .
step "mypy" "$VENV/bin/mypy"
step "makemigrations --check" "$PY" manage.py makemigrations --check --dry-run
step "translations complete" "$PY" scripts/check_translations.py
step "compilemessages" "$PY" manage.py compilemessages --ignore=.venv -v 0
step "pytest" "$VENV/bin/pytest" "$@"

if [ ${#failed[@]} -gt 0 ]; then
  log "FAILED: ${failed[*]}"
  exit 1
fi
log "All checks passed"
