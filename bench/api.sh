#!/usr/bin/env bash
# Load benchmark of the Expense-Wise API against the reference app (issue 2). `make bench-api`.
#
#   bash bench/api.sh                      # ~4 minutes: 15 s per run, concurrency 16 and 64
#   BENCH_DURATION=5 BENCH_WARMUP=1 bash bench/api.sh      # quick look
#
# Sets up everything on this machine, loopback only, and tears it all down on exit, failure
# or Ctrl-C: two scratch PostgreSQL databases (the API's, migrated and seeded with one user
# and 100,000 expenses; the reference app's, loaded with ../shared/bench/reference_seed.sql),
# the API in its production set-up (APP_ENV=production, PostgreSQL, Redis, 2 uvicorn
# workers, per-request JSON log to a file, the Redis rate-limit counter on every request),
# and the reference app (uvicorn, 2 workers). bench/api_bench.py then runs
# ../shared/bench/load.sh (wrk) on one target at a time and prints the table.
#
# Environment (defaults in brackets):
#   BENCH_DURATION [15] seconds per measured run; BENCH_WARMUP [3] seconds of warm-up per run
#   BENCH_ROUNDS [1] runs per row (median); BENCH_CONCURRENCY ["16 64"]; BENCH_DEEP_PAGE [1000]
#   BENCH_ONLY ["" | list | create]
#   BENCH_PG_HOST [127.0.0.1] BENCH_PG_PORT [5432] BENCH_PG_USER [postgres]
#   BENCH_REDIS_HOST [127.0.0.1] BENCH_REDIS_PORT [6379] BENCH_REDIS_DB [14]
#   BENCH_APP_PORT [18731] BENCH_REF_PORT [18732]; BENCH_REF_DIR [../shared/bench]
#   BENCH_APP_DIR [this checkout]: the tree whose .venv and src are served (e.g. a worktree
#   with a change to try); BENCH_KEEP_LOGS=1 keeps the server logs (path printed at the end)
# Exit status: 0 all targets pass, 1 a target fails, 2 set-up problem, 130 interrupted.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
APP_DIR=$(cd "${BENCH_APP_DIR:-$ROOT}" && pwd)
REF_DIR=$(cd "${BENCH_REF_DIR:-$ROOT/../shared/bench}" && pwd)
PG_HOST=${BENCH_PG_HOST:-127.0.0.1}
PG_PORT=${BENCH_PG_PORT:-5432}
PG_USER=${BENCH_PG_USER:-postgres}
REDIS_HOST=${BENCH_REDIS_HOST:-127.0.0.1}
REDIS_PORT=${BENCH_REDIS_PORT:-6379}
REDIS_DB=${BENCH_REDIS_DB:-14}
APP_PORT=${BENCH_APP_PORT:-18731}
REF_PORT=${BENCH_REF_PORT:-18732}
PY="$APP_DIR/.venv/bin/python"

die() { echo "bench/api.sh: $*" >&2; exit 2; }
is_loopback() { case "$1" in 127.*|localhost|::1|\[::1\]) return 0;; *) return 1;; esac; }
is_loopback "$PG_HOST" || die "refusing non-loopback PostgreSQL host: $PG_HOST"
is_loopback "$REDIS_HOST" || die "refusing non-loopback Redis host: $REDIS_HOST"
for tool in psql wrk; do command -v "$tool" >/dev/null || die "$tool is missing (apt-get install)"; done
[ -x "$APP_DIR/.venv/bin/expense-wise" ] || die "no $APP_DIR/.venv: run 'uv sync' first"
[ -x "$APP_DIR/.venv/bin/uvicorn" ] || die "uvicorn missing from $APP_DIR/.venv"
for f in reference_app.py reference_seed.sql load.sh load.lua; do
  [ -f "$REF_DIR/$f" ] || die "$REF_DIR/$f is missing"
done
for port in "$APP_PORT" "$REF_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then die "port $port is already in use"; fi
done

TAG="ew_bench_$$_$(date +%s)"
APP_DB="${TAG}_app"
REF_DB="${TAG}_ref"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ew-bench.XXXXXX")
APP_PID=""
REF_PID=""
BENCH_PID=""
DBS_CREATED=()
export PGHOST="$PG_HOST" PGPORT="$PG_PORT" PGUSER="$PG_USER" PGCONNECT_TIMEOUT=5

stop_group() {  # $1 = pid of a process started with setsid (its process-group id)
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM -- "-$pid" 2>/dev/null || return 0
  for _ in $(seq 1 50); do
    kill -0 -- "-$pid" 2>/dev/null || return 0
    sleep 0.2
  done
  kill -KILL -- "-$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  stop_group "$BENCH_PID"
  stop_group "$APP_PID"
  stop_group "$REF_PID"
  for db in "${DBS_CREATED[@]}"; do
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 ||
      echo "bench/api.sh: could not drop database $db" >&2
  done
  "$PY" - "$REDIS_HOST" "$REDIS_PORT" "$REDIS_DB" <<'EOF' 2>/dev/null || echo "bench/api.sh: Redis keys bench:* not removed" >&2
import sys, redis
r = redis.Redis(host=sys.argv[1], port=int(sys.argv[2]), db=int(sys.argv[3]))
keys = list(r.scan_iter(match="bench:*", count=1000))
for i in range(0, len(keys), 500):
    r.delete(*keys[i:i + 500])
EOF
  if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
    for log in "$WORK/app.log" "$WORK/ref.log"; do
      [ -s "$log" ] && { echo "--- last lines of $log" >&2; tail -n 15 "$log" >&2; }
    done
  fi
  if [ "${BENCH_KEEP_LOGS:-0}" = 1 ]; then
    echo "bench/api.sh: logs kept in $WORK" >&2
  else
    rm -rf "$WORK"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'echo "bench/api.sh: interrupted" >&2; exit 130' INT TERM

psql -X -q -d postgres -c "SELECT 1" >/dev/null || die "PostgreSQL not reachable at $PG_HOST:$PG_PORT"
"$PY" -c "import redis,sys; redis.Redis(host='$REDIS_HOST', port=$REDIS_PORT).ping()" 2>/dev/null ||
  die "Redis not reachable at $REDIS_HOST:$REDIS_PORT"

echo "[bench] scratch databases $APP_DB, $REF_DB; work dir $WORK" >&2
for db in "$APP_DB" "$REF_DB"; do
  psql -X -q -d postgres -c "CREATE DATABASE \"$db\"" >/dev/null
  DBS_CREATED+=("$db")
done
psql -X -q -v ON_ERROR_STOP=1 -d "$REF_DB" -f "$REF_DIR/reference_seed.sql" >/dev/null 2>"$WORK/ref-seed.log" ||
  { cat "$WORK/ref-seed.log" >&2; die "loading reference_seed.sql failed"; }

JWT_SECRET=$("$PY" -c 'import secrets; print(secrets.token_urlsafe(36))')  # 48 characters
mkdir -p "$WORK/data" "$WORK/prometheus"
APP_ENV_VARS=(
  APP_ENV=production
  DATABASE_URL="postgresql+psycopg://$PG_USER@$PG_HOST:$PG_PORT/$APP_DB"
  REDIS_URL="redis://$REDIS_HOST:$REDIS_PORT/$REDIS_DB"
  REDIS_KEY_PREFIX=bench:
  JWT_SECRET="$JWT_SECRET"
  ACCESS_TOKEN_TTL=2h
  RATE_LIMIT_MAX=100000000
  LOG_LEVEL=INFO
  HOST=127.0.0.1
  DATA_DIR="$WORK/data"
  PROMETHEUS_MULTIPROC_DIR="$WORK/prometheus"
)
env "${APP_ENV_VARS[@]}" "$APP_DIR/.venv/bin/expense-wise" migrate >"$WORK/migrate.log" 2>&1 ||
  { cat "$WORK/migrate.log" >&2; die "migration failed"; }

cd "$APP_DIR"
setsid env "${APP_ENV_VARS[@]}" "$APP_DIR/.venv/bin/expense-wise" serve --workers 2 \
  --host 127.0.0.1 --port "$APP_PORT" >"$WORK/app.log" 2>&1 </dev/null &
APP_PID=$!
# The reference is the ceiling of a bare app: same server (uvicorn + uvloop + httptools),
# no access log.
setsid env DATABASE_URL="postgresql+psycopg://$PG_USER@$PG_HOST:$PG_PORT/$REF_DB" \
  "$APP_DIR/.venv/bin/uvicorn" reference_app:app --app-dir "$REF_DIR" --workers 2 \
  --host 127.0.0.1 --port "$REF_PORT" --no-access-log --log-level warning \
  >"$WORK/ref.log" 2>&1 </dev/null &
REF_PID=$!

# In its own process group, waited for in the background, so that a signal reaches the trap
# at once and the cleanup can stop the load generator too.
set +e
setsid "$PY" "$HERE/api_bench.py" \
  --app "http://127.0.0.1:$APP_PORT" --ref "http://127.0.0.1:$REF_PORT" \
  --dsn "postgresql://$PG_USER@$PG_HOST:$PG_PORT/$APP_DB" --load-sh "$REF_DIR/load.sh" \
  --ref-dsn "postgresql://$PG_USER@$PG_HOST:$PG_PORT/$REF_DB" \
  --app-pgid "$APP_PID" --ref-pgid "$REF_PID" &
BENCH_PID=$!
wait "$BENCH_PID"
status=$?
BENCH_PID=""
set -e
rev=$(git -C "$APP_DIR" rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$APP_DIR" status --porcelain -- src 2>/dev/null | wc -l)
echo "served tree: $APP_DIR @ $rev ($dirty changed file(s) under src/); server log lines: $(wc -l <"$WORK/app.log")"
grep -c '"level": *"error"' "$WORK/app.log" >/dev/null 2>&1 &&
  echo "server errors logged: $(grep -c '"level": *"error"' "$WORK/app.log")"
exit "$status"
