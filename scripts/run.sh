#!/usr/bin/env bash
# `make run`: the embedded default. SQLite under var/, a Celery worker and beat on kombu's
# filesystem transport (no broker server), emails as files under var/mail/. Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

command -v msgfmt >/dev/null || apt_install gettext
venv_install requirements.txt

export DJANGO_SETTINGS_MODULE=config.settings.local
mkdir -p var/mail var/broker/queue var/broker/processed var/broker/control var/cache var/log

log "Preparing the database and demo data"
"$PY" manage.py compilemessages --ignore=.venv -v 0
"$PY" manage.py migrate --noinput -v 0
"$PY" manage.py seed_demo

pids=()
stop() {
  trap - EXIT INT TERM
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap stop EXIT
trap 'exit 130' INT TERM

"$VENV/bin/celery" -A config worker --loglevel=INFO --concurrency=2 >var/log/worker.log 2>&1 &
pids+=($!)
"$VENV/bin/celery" -A config beat --loglevel=INFO --schedule=var/celerybeat-schedule >var/log/beat.log 2>&1 &
pids+=($!)
log "Celery worker and beat started (logs in var/log/); emails are written to var/mail/"
log "Simdesk on http://127.0.0.1:8000  (staff console: http://127.0.0.1:8000/admin/)  Ctrl-C stops"
"$PY" manage.py runserver 127.0.0.1:8000 --noreload
