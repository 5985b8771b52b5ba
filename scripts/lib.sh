# Shared shell helpers for the Makefile's scripts: installs, private services, cleanup.
# Sourced, not run. Every service started here is stopped by `services_stop`.

VENV=${VENV:-.venv}
PY="$VENV/bin/python"
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

apt_install() {
  # Installs Debian packages that are missing; `apt-get update` only once, only when needed.
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  # No system-wide PostgreSQL cluster or service: the scripts run their own.
  mkdir -p /etc/postgresql-common/createcluster.d
  echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.d/simdesk.conf
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

venv_install() {
  # $1: requirements file. Reinstalls only when the file changed since the last install.
  local req=$1 stamp="$VENV/.installed-$(basename "$1" .txt)"
  [ -x "$PY" ] || python3 -m venv "$VENV"
  if [ ! -f "$stamp" ] || [ "$req" -nt "$stamp" ] || [ requirements.txt -nt "$stamp" ]; then
    log "pip install -r $req"
    "$PY" -m pip install -q --disable-pip-version-check --upgrade pip
    "$PY" -m pip install -q --disable-pip-version-check -r "$req"
    touch "$stamp"
  fi
}

free_port() {
  "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# --- Private PostgreSQL: pg_start DIR -> exports PGPORT, PGHOST ---------------
pg_start() {
  local dir=$1
  PG_DIR=$dir
  PGPORT=$(free_port)
  mkdir -p "$dir"
  chown postgres:postgres "$dir"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 \
    --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log"; return 1; }
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" \
    -o "-p $PGPORT -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null || { cat "$dir/server.log"; return 1; }
  PGHOST=127.0.0.1
  export PGPORT PGHOST
  log "PostgreSQL on 127.0.0.1:$PGPORT"
}

pg_stop() {
  [ -n "${PG_DIR:-}" ] && [ -f "$PG_DIR/data/postmaster.pid" ] &&
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1
  PG_DIR=
}

# --- Private Redis: redis_start DIR -> exports REDIS_PORT ---------------------
redis_start() {
  local dir=$1
  REDIS_DIR=$dir
  REDIS_PORT=$(free_port)
  mkdir -p "$dir"
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir"
  for _ in $(seq 50); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  export REDIS_PORT
  log "Redis on 127.0.0.1:$REDIS_PORT"
}

redis_stop() {
  if [ -n "${REDIS_DIR:-}" ] && [ -f "$REDIS_DIR/redis.pid" ]; then
    kill "$(cat "$REDIS_DIR/redis.pid")" 2>/dev/null
  fi
  REDIS_DIR=
}

# --- Private localstripe, a fake Stripe API for the gateway's tests:
#     localstripe_start DIR -> exports STRIPE_TEST_API_BASE --------------------------
localstripe_start() {
  local dir=$1 pid
  LOCALSTRIPE_DIR=$dir
  LOCALSTRIPE_PORT=$(free_port)
  mkdir -p "$dir"
  # --from-scratch: never load the state another run pickled to /tmp/localstripe.pickle.
  "$VENV/bin/localstripe" --from-scratch --port "$LOCALSTRIPE_PORT" >"$dir/localstripe.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/localstripe.pid"
  STRIPE_TEST_API_BASE="http://127.0.0.1:$LOCALSTRIPE_PORT"
  # Ready when it answers HTTP (its Stripe.js needs no key); give up after 15 s or if it exits.
  "$PY" - "$STRIPE_TEST_API_BASE/js.stripe.com/v3/" "$pid" <<'PY' || { cat "$dir/localstripe.log"; return 1; }
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 15
while True:
    try:
        urllib.request.urlopen(url, timeout=1).close()
        break
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit("localstripe exited")
        if time.monotonic() > deadline:
            sys.exit("localstripe did not answer")
        time.sleep(0.1)
PY
  export STRIPE_TEST_API_BASE
  log "localstripe on 127.0.0.1:$LOCALSTRIPE_PORT"
}

localstripe_stop() {
  if [ -n "${LOCALSTRIPE_DIR:-}" ] && [ -f "$LOCALSTRIPE_DIR/localstripe.pid" ]; then
    kill "$(cat "$LOCALSTRIPE_DIR/localstripe.pid")" 2>/dev/null
  fi
  LOCALSTRIPE_DIR=
}

services_stop() {
  pg_stop
  redis_stop
  localstripe_stop
}
