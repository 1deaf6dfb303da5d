#!/usr/bin/env bash
# End-to-end test of the Expense-Wise image (make image-test; also run by CI).
#
# Builds the image, inspects the final stage, then runs every process type from it as the
# image's non-root user against the local PostgreSQL and Redis: migrate, serve, the API,
# worker (receipt OCR with the image's Tesseract), backups with the image's pg_dump/pg_restore,
# and serve once more with a read-only root filesystem. Prints PASS/FAIL per step and exits
# non-zero if any step failed. Containers, background processes and the scratch database are
# removed on every exit path.
#
# Needs root (buildah, mounts), curl and python3 on the host, PostgreSQL 15 on PGHOST:PGPORT
# with trust auth for PGUSER, and Redis on REDIS_HOST:REDIS_PORT.
#
# Environment:
#   IMAGE             image to test (default: expense-wise:ci)
#   SKIP_BUILD=1      test the existing image instead of building it first
#   PGHOST/PGPORT/PGUSER   PostgreSQL admin connection (default: 127.0.0.1/5432/postgres)
#   REDIS_HOST/REDIS_PORT  Redis (default: 127.0.0.1/6379)
#   REDIS_DB          Redis database reserved for this run (default: random 10-15)
#   RECEIPT           receipt image to upload (default: tests/data/receipts/trading.jpg)
#   MAX_IMAGE_MB      size budget on top of the base image, in MB (default: 720; RapidOCR's
#                     stack, OpenCV, onnxruntime, numpy and the models, is about 360 of it)
#   KEEP_WORK=1       keep the scratch directory with every process's log
set -uo pipefail

cd "$(dirname "$0")/.." || exit 1
repo_root=$PWD

IMAGE=${IMAGE:-expense-wise:ci}
BASE_IMAGE=${BASE_IMAGE:-localhost/debian:bookworm-slim}
PGHOST=${PGHOST:-127.0.0.1}
PGPORT=${PGPORT:-5432}
PGUSER=${PGUSER:-postgres}
REDIS_HOST=${REDIS_HOST:-127.0.0.1}
REDIS_PORT=${REDIS_PORT:-6379}
REDIS_DB=${REDIS_DB:-$((10 + RANDOM % 6))}
RECEIPT=${RECEIPT:-tests/data/receipts/trading.jpg}
MAX_IMAGE_MB=${MAX_IMAGE_MB:-720}
APP_UID=10001
export PGHOST PGPORT PGUSER

# ---------------------------------------------------------------------------------------------
# Reporting

declare -a summary=()
failures=0

pass() {
    printf 'PASS  %s%s\n' "$1" "${2:+  ($2)}"
    summary+=("PASS  $1")
}

fail() {
    printf 'FAIL  %s%s\n' "$1" "${2:+  ($2)}"
    summary+=("FAIL  $1")
    failures=$((failures + 1))
}

info() { printf '      %s\n' "$*"; }

# Show the end of a log file, indented, after a failure.
show_log() {
    [[ -s $1 ]] || return 0
    info "--- last lines of $(basename "$1"):"
    tail -n "${2:-25}" "$1" | sed 's/^/      | /'
}

now() { date +%s.%N; }
elapsed() { python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.2f}")' "$1" "$2"; }

# ---------------------------------------------------------------------------------------------
# Scratch resources and cleanup

if [[ $(id -u) != 0 ]]; then
    echo "image-test needs root (buildah, mount namespaces)" >&2
    exit 2
fi
work=$(mktemp -d /tmp/ew-image-test.XXXXXX)
db_name="ew_image_$(tr -dc 'a-z0-9' </dev/urandom | head -c 10)"
db_created=0
declare -a containers=()
jobs_c="" serve_c="" worker_c=""
declare -a background_pids=()

# Stop a process group started with start_background; TERM first, KILL if it lingers.
stop_group() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM -- "-$pid" 2>/dev/null
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    kill -KILL -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}

cleanup() {
    local pid c
    for pid in "${background_pids[@]}"; do stop_group "$pid"; done
    for c in "${containers[@]}"; do buildah rm "$c" >/dev/null 2>&1; done
    if ((db_created)); then
        # The scratch database and whatever backup verify/restore made next to it.
        local name
        for name in $(psql -X -Atq -d postgres -c \
            "select datname from pg_database where datname like '${db_name}%'"); do
            psql_admin -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null 2>&1 ||
                echo "WARN  could not drop scratch database $name" >&2
        done
    fi
    if [[ ${KEEP_WORK:-0} == 1 ]]; then
        echo "logs and files kept in $work" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -d postgres "$@"; }

# ---------------------------------------------------------------------------------------------
# Containers

# Create a working container from the image and store its name in the variable named $1.
new_container() {
    local c
    c=$(buildah from --pull=never "$IMAGE") || return 1
    containers+=("$c")
    printf -v "$1" '%s' "$c"
}

jwt_secret=$(python3 -c 'import secrets; print(secrets.token_urlsafe(36))')
# A port in 18000-19999 that nothing listens on right now.
port=$(python3 -c '
import random, socket
for port in random.sample(range(18000, 20000), 200):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        print(port)
        break')
data_dir=$work/data
backup_dir=$work/backups
mkdir -p "$data_dir" "$backup_dir"
chown "$APP_UID:$APP_UID" "$data_dir" "$backup_dir"

# Environment and mounts every app process gets: production settings, the scratch database,
# a dedicated Redis database, and host directories for receipts and backups so that serve,
# worker and backup (separate containers) see the same files.
app_env=(
    -e APP_ENV=production
    -e LOG_LEVEL=INFO
    -e "JWT_SECRET=$jwt_secret"
    -e "DATABASE_URL=postgresql+psycopg://$PGUSER@$PGHOST:$PGPORT/$db_name"
    -e "REDIS_URL=redis://$REDIS_HOST:$REDIS_PORT/$REDIS_DB"
    -e DATA_DIR=/tmp/ew-data
    -e BACKUP_DIR=/tmp/ew-backups
    -e "PORT=$port"
    -e WEB_CONCURRENCY=1
    -v "$data_dir:/tmp/ew-data"
    -v "$backup_dir:/tmp/ew-backups"
)

# Run a command in container $1 as the image's user, in the foreground.
in_container() {
    local c=$1
    shift
    buildah run --isolation=chroot --user "$APP_UID" "${app_env[@]}" "$c" -- "$@"
}

# Run a command in container $1 in its own process group, logging to $2; sets $bg_pid.
start_background() {
    local c=$1 log=$2
    shift 2
    setsid buildah run --isolation=chroot --user "$APP_UID" "${app_env[@]}" "$c" -- "$@" \
        >"$log" 2>&1 &
    bg_pid=$!
    background_pids+=("$bg_pid")
}

# Poll URL until it answers 200 while process $2 lives; prints seconds waited.
wait_for_200() {
    local url=$1 pid=$2 timeout=${3:-60} start
    start=$(now)
    while true; do
        if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url") == 200 ]]; then
            elapsed "$start" "$(now)"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        (($(date +%s) - ${start%.*} >= timeout)) && return 1
        sleep 0.1
    done
}

# ---------------------------------------------------------------------------------------------
# HTTP helpers: `api METHOD PATH [curl args...]` sets $status and writes the body to $body.

body=$work/body.json
status=""
token=""
base_url="http://127.0.0.1:$port"

api() {
    local method=$1 path=$2
    shift 2
    local auth=()
    [[ -n $token ]] && auth=(-H "Authorization: Bearer $token")
    status=$(curl -sS -o "$body" -w '%{http_code}' --max-time 30 -X "$method" "${auth[@]}" \
        "$@" "$base_url$path") || status=000
}

api_json() {
    local method=$1 path=$2 data=$3
    api "$method" "$path" -H 'Content-Type: application/json' --data "$data"
}

# Print a field of the last response body (dotted path, list indexes allowed), or nothing.
field() {
    python3 - "$body" "$1" <<'PY' 2>/dev/null
import json, sys
value = json.load(open(sys.argv[1]))
for key in sys.argv[2].split("."):
    value = value[int(key)] if isinstance(value, list) else value[key]
print(value if not isinstance(value, (dict, list)) else json.dumps(value))
PY
}

short_body() { head -c 300 "$body" 2>/dev/null | tr '\n' ' '; }

# =============================================================================================
echo "== expense-wise image test: $IMAGE (port $port, database $db_name, redis db $REDIS_DB)"

# --- build -----------------------------------------------------------------------------------
if [[ ${SKIP_BUILD:-0} == 1 ]]; then
    info "SKIP_BUILD=1: testing the existing $IMAGE"
else
    build_start=$SECONDS
    if ENGINE=buildah IMAGE=$IMAGE BASE_IMAGE=$BASE_IMAGE bash scripts/image.sh >"$work/build.log" 2>&1; then
        pass "build image" "$((SECONDS - build_start))s"
    else
        fail "build image" "$((SECONDS - build_start))s"
        show_log "$work/build.log" 40
    fi
fi
if ! buildah inspect --type image "$IMAGE" >/dev/null 2>&1; then
    fail "image $IMAGE exists"
    echo "== RESULT: FAIL (no image to test)"
    exit 1
fi

# --- size on top of the base -------------------------------------------------------------------
layer_bytes() {
    buildah inspect --type image "$1" | python3 -c '
import json, sys
manifest = json.loads(json.load(sys.stdin)["Manifest"])
print(sum(layer["size"] for layer in manifest["layers"]))'
}
if image_bytes=$(layer_bytes "$IMAGE") && base_bytes=$(layer_bytes "$BASE_IMAGE"); then
    added_mb=$(((image_bytes - base_bytes) / 1000000))
    detail="image $((image_bytes / 1000000)) MB, base $((base_bytes / 1000000)) MB, added $added_mb MB (uncompressed), budget $MAX_IMAGE_MB MB"
    if ((added_mb <= MAX_IMAGE_MB)); then pass "image size" "$detail"; else fail "image size" "$detail"; fi
else
    fail "image size" "cannot read layer sizes of $IMAGE or $BASE_IMAGE"
fi

# --- final-stage contents and metadata -------------------------------------------------------
new_container jobs_c || { fail "create container"; exit 1; }
rootfs=$(buildah mount "$jobs_c")

problems=()
for tool in gcc cc g++ c++ clang make; do
    for dir in usr/bin usr/local/bin bin; do
        [[ -e $rootfs/$dir/$tool ]] && problems+=("/$dir/$tool present")
    done
done
[[ -n $(ls -A "$rootfs/var/lib/apt/lists" 2>/dev/null) ]] && problems+=("/var/lib/apt/lists not empty")
[[ -n $(find "$rootfs/var/cache/apt" -type f 2>/dev/null | head -1) ]] && problems+=("/var/cache/apt has files")
while IFS= read -r cache; do
    problems+=("cache dir ${cache#"$rootfs"}")
done < <(find "$rootfs" -xdev -type d \( -path "$rootfs/root/.cache" -o -path "$rootfs/tmp/.cache" \
    -o -name 'pip-cache' -o -path '*/.cache/pip' -o -path '*/.cache/uv' -o -path "$rootfs/var/cache/uv" \) 2>/dev/null)
[[ -e $rootfs/opt/uv ]] && problems+=("/opt/uv (the build-time uv) present")
[[ -n $(ls -A "$rootfs/run/secrets" 2>/dev/null) ]] && problems+=("build secrets left in /run/secrets")
[[ -e $rootfs/opt/venv/bin/pip ]] && problems+=("pip in the venv")
# Copyright files are the only documentation kept (Debian licence terms ask for them).
doc_files=$(find "$rootfs/usr/share/doc" -type f -not -name copyright 2>/dev/null | wc -l)
((doc_files > 0)) && problems+=("$doc_files non-copyright files under /usr/share/doc")
man_files=$(find "$rootfs/usr/share/man" "$rootfs/usr/share/info" -type f 2>/dev/null | wc -l)
((man_files > 0)) && problems+=("$man_files man/info pages")
pyc_count=$(find "$rootfs/opt/venv/lib" -name '*.pyc' | wc -l)
((pyc_count < 100)) && problems+=("venv has only $pyc_count .pyc files: bytecode not compiled at build time")
grep -q "^app:x:$APP_UID:$APP_UID:" "$rootfs/etc/passwd" || problems+=("no user app with uid/gid $APP_UID")
if ((${#problems[@]})); then
    fail "final stage has no build tools, caches or docs" "$(IFS=';'; echo "${problems[*]}")"
else
    pass "final stage has no build tools, caches or docs" "$pyc_count .pyc, copyright files only"
fi

config_problems=$(buildah inspect --type image "$IMAGE" | python3 -c '
import json, sys
config = json.load(sys.stdin)["Docker"]["config"]
env = dict(item.split("=", 1) for item in config.get("Env", []))
expected_env = {"HOST": "0.0.0.0", "HOME": "/tmp", "PYTHONDONTWRITEBYTECODE": "1",
                "DATA_DIR": "/tmp/expense-wise"}
problems = [f"{k}={env.get(k)!r}" for k, v in expected_env.items() if env.get(k) != v]
user, entrypoint, cmd = config.get("User"), config.get("Entrypoint"), config.get("Cmd")
if user not in ("10001", "10001:10001", "app"):
    problems.append(f"User={user!r}")
if entrypoint != ["expense-wise"]:
    problems.append(f"Entrypoint={entrypoint}")
if cmd != ["serve"]:
    problems.append(f"Cmd={cmd}")
if "expense-wise" not in " ".join((config.get("Healthcheck") or {}).get("Test", [])):
    problems.append("no HEALTHCHECK running expense-wise healthcheck")
labels = config.get("Labels") or {}
for key in ("title", "version", "revision", "created", "licenses"):
    if not labels.get(f"org.opencontainers.image.{key}"):
        problems.append(f"label org.opencontainers.image.{key} missing")
print("; ".join(problems))') || config_problems="the configuration check itself failed"
if [[ -z $config_problems ]]; then
    pass "image config (user, entrypoint, cmd, healthcheck, env, OCI labels)"
else
    fail "image config (user, entrypoint, cmd, healthcheck, env, OCI labels)" "$config_problems"
fi

# --- CLI help for every process type -------------------------------------------------------------
for cmd in "" serve worker migrate healthcheck "backup create" "backup list" "backup verify" \
    "backup prune" "backup restore" create-user "receipts extract"; do
    # shellcheck disable=SC2086 # split the subcommand words on purpose
    if in_container "$jobs_c" expense-wise $cmd --help >"$work/help.log" 2>&1; then
        pass "expense-wise ${cmd:+$cmd }--help"
    else
        fail "expense-wise ${cmd:+$cmd }--help"
        show_log "$work/help.log" 3
    fi
done

# --- OCR with each engine in the image (RapidOCR's models come inside its wheel), no services -
receipt_path=$repo_root/$RECEIPT
if [[ -r $receipt_path ]]; then
    cp "$receipt_path" "$data_dir/" && chown "$APP_UID:$APP_UID" "$data_dir/$(basename "$receipt_path")"
fi
for engine in tesseract rapidocr; do
    if [[ ! -r $receipt_path ]]; then
        fail "receipts extract ($engine in the image)" "receipt $receipt_path not readable"
        continue
    fi
    start=$(now)
    if in_container "$jobs_c" expense-wise receipts extract --json --engine "$engine" \
        "/tmp/ew-data/$(basename "$receipt_path")" >"$work/extract-$engine.log" 2>&1 \
        && grep -q '"total": "[0-9]' "$work/extract-$engine.log"; then
        pass "receipts extract ($engine in the image)" \
            "$(elapsed "$start" "$(now)")s: $(grep -m1 '^{' "$work/extract-$engine.log")"
    else
        fail "receipts extract ($engine in the image)"
        show_log "$work/extract-$engine.log"
    fi
done

# --- scratch database and migrations -----------------------------------------------------------
if psql_admin -c "CREATE DATABASE \"$db_name\"" >"$work/createdb.log" 2>&1; then
    db_created=1
    pass "create scratch database $db_name"
else
    fail "create scratch database $db_name"
    show_log "$work/createdb.log"
fi

migrated=0
if ((db_created)); then
    start=$(now)
    if in_container "$jobs_c" expense-wise migrate >"$work/migrate.log" 2>&1; then
        migrated=1
        tables=$(psql -X -Atq -d "$db_name" -c \
            "select count(*) from information_schema.tables where table_schema = 'public'")
        pass "migrate" "$(elapsed "$start" "$(now)")s, $tables tables"
    else
        fail "migrate"
        show_log "$work/migrate.log"
    fi
else
    fail "migrate" "skipped: no database"
fi

# --- serve -------------------------------------------------------------------------------------
serving=0
new_container serve_c
if ((migrated)); then
    serve_started=$(now)
    start_background "$serve_c" "$work/serve.log" expense-wise serve
    serve_pid=$bg_pid
    if health_s=$(wait_for_200 "$base_url/health" "$serve_pid" 60); then
        pass "serve answers /health" "${health_s}s after start"
        if wait_for_200 "$base_url/ready" "$serve_pid" 30 >/dev/null; then
            serving=1
            pass "serve answers /ready" "$(elapsed "$serve_started" "$(now)")s from start of serve to /ready 200"
        else
            fail "serve answers /ready"
            curl -s --max-time 5 "$base_url/ready" | head -c 300 | sed 's/^/      | /'
            echo
            show_log "$work/serve.log"
        fi
    else
        fail "serve answers /health" "no 200 within 60s"
        show_log "$work/serve.log"
    fi
else
    fail "serve" "skipped: database not migrated"
fi

new_container worker_c
if ((serving)); then
    if in_container "$worker_c" expense-wise healthcheck >"$work/healthcheck.log" 2>&1; then
        pass "expense-wise healthcheck (the image's HEALTHCHECK)"
    else
        fail "expense-wise healthcheck (the image's HEALTHCHECK)"
        show_log "$work/healthcheck.log"
    fi
fi

# --- API: register, log in, create and list an expense -----------------------------------------
email="image-test-$RANDOM@example.com"
password="Image-test-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
logged_in=0
if ((serving)); then
    api_json POST /api/v1/auth/register "{\"email\":\"$email\",\"password\":\"$password\",\"name\":\"Image Test\"}"
    if [[ $status == 201 ]]; then pass "register" "201"; else fail "register" "HTTP $status: $(short_body)"; fi

    api_json POST /api/v1/auth/login "{\"email\":\"$email\",\"password\":\"$password\"}"
    token=$(field access_token)
    if [[ $status == 200 && -n $token ]]; then
        logged_in=1
        pass "log in" "200, access_token received"
    else
        token=""
        fail "log in" "HTTP $status: $(short_body)"
    fi
else
    fail "register and log in" "skipped: serve not ready"
fi

if ((logged_in)); then
    api_json POST /api/v1/expenses \
        '{"amount":"12.50","currency":"EUR","occurred_on":"2024-05-01","merchant":"Cafe"}'
    expense_id=$(field id)
    if [[ $status == 201 ]]; then pass "create expense" "201, id $expense_id"; else fail "create expense" "HTTP $status: $(short_body)"; fi

    api GET /api/v1/expenses
    listed=$(python3 -c '
import json, sys
page = json.load(open(sys.argv[1]))
ok = "next_cursor" in page and any(i.get("merchant") == "Cafe" and str(i.get("amount")) == "12.50"
                                   for i in page["items"])
print(len(page["items"]) if ok else "")' "$body" 2>/dev/null)
    if [[ $status == 200 && -n $listed ]]; then
        pass "list expenses" "200, $listed item(s), next_cursor present"
    else
        fail "list expenses" "HTTP $status: $(short_body)"
    fi
else
    fail "create and list expenses" "skipped: not logged in"
fi

# --- worker: receipt upload to OCR done ----------------------------------------------------------
if ((logged_in)); then
    start_background "$worker_c" "$work/worker.log" expense-wise worker
    worker_pid=$bg_pid
    sleep 5
    if kill -0 "$worker_pid" 2>/dev/null; then
        pass "worker starts and keeps running" "alive after 5s"
    else
        fail "worker starts and keeps running" "exited within 5s"
        show_log "$work/worker.log" 6
    fi
    if [[ ! -r $receipt_path ]]; then
        fail "receipt OCR by the worker" "receipt $receipt_path not readable"
    else
        api POST /api/v1/receipts -F "file=@$receipt_path;type=image/jpeg"
        receipt_id=$(field id)
        receipt_status=$(field status)
        if [[ $status == 202 && -n $receipt_id && $receipt_status == pending ]]; then
            pass "upload receipt" "202, id $receipt_id, pending"
            start=$(now)
            deadline=$((SECONDS + 120))
            while ((SECONDS < deadline)); do
                api GET "/api/v1/receipts/$receipt_id"
                receipt_status=$(field status)
                [[ $receipt_status == "done" || $receipt_status == "failed" ]] && break
                kill -0 "$worker_pid" 2>/dev/null || break
                sleep 0.5
            done
            if [[ $receipt_status == "done" ]]; then
                pass "worker processes receipt to done" "$(elapsed "$start" "$(now)")s; $(short_body)"
            else
                fail "worker processes receipt to done" "status '${receipt_status:-?}' after $(elapsed "$start" "$(now)")s: $(short_body)"
                show_log "$work/worker.log"
            fi
        else
            fail "upload receipt" "HTTP $status: $(short_body)"
        fi
    fi
else
    fail "receipt OCR by the worker" "skipped: not logged in"
fi

# --- backups with the image's pg_dump / pg_restore -------------------------------------------------
if ((migrated)); then
    if in_container "$jobs_c" expense-wise backup create --to /tmp/ew-backups >"$work/backup.log" 2>&1; then
        pass "backup create" "$(find "$backup_dir" -type f | wc -l) file(s), $(du -sh "$backup_dir" | cut -f1)"
        if in_container "$jobs_c" expense-wise backup list --from /tmp/ew-backups >"$work/backup-list.log" 2>&1; then
            pass "backup list"
        else
            fail "backup list"
            show_log "$work/backup-list.log"
        fi
        if in_container "$jobs_c" expense-wise backup verify --latest --from /tmp/ew-backups >"$work/backup-verify.log" 2>&1; then
            pass "backup verify --latest"
        else
            fail "backup verify --latest"
            show_log "$work/backup-verify.log"
        fi
        if in_container "$jobs_c" expense-wise backup prune --dry-run --from /tmp/ew-backups >"$work/backup-prune.log" 2>&1; then
            pass "backup prune --dry-run"
        else
            fail "backup prune --dry-run"
            show_log "$work/backup-prune.log"
        fi
        # Into a second scratch database, so the restore path runs without touching the first.
        restore_url="postgresql+psycopg://$PGUSER@$PGHOST:$PGPORT/${db_name}_restored"
        if in_container "$jobs_c" expense-wise backup restore --latest --from /tmp/ew-backups \
            --target-url "$restore_url" --yes --no-safety-backup >"$work/backup-restore.log" 2>&1; then
            restored=$(psql -X -Atq -d "${db_name}_restored" -c "select count(*) from expenses" 2>/dev/null)
            if [[ ${restored:-0} -ge 1 ]]; then
                pass "backup restore --latest into a new database" "$restored expense row(s)"
            else
                fail "backup restore --latest into a new database" "restored database has no expenses"
            fi
        else
            fail "backup restore --latest into a new database"
            show_log "$work/backup-restore.log"
        fi
    else
        fail "backup create"
        show_log "$work/backup.log"
    fi
else
    fail "backup create/verify" "skipped: database not migrated"
fi

# --- stop serve and worker; nothing may have been written outside /tmp -----------------------------
for pid in "${background_pids[@]}"; do stop_group "$pid"; done

# A container's overlay upper directory holds exactly what its processes wrote. buildah itself
# leaves an empty /run mount point; the bind-mounted host directories live under /tmp.
for c in "$jobs_c" "$serve_c" "$worker_c"; do
    upper=$(dirname "$(buildah mount "$c")")/diff
    written=$(cd "$upper" && find . -mindepth 1 -not -path './tmp' -not -path './tmp/*' \
        -not \( -path ./run -type d -empty \) | head -20)
    name=$(buildah inspect --type container --format '{{.Container}}' "$c")
    if [[ -z $written ]]; then
        pass "no writes outside /tmp in $name"
    else
        fail "no writes outside /tmp in $name" "$(echo "$written" | tr '\n' ' ')"
    fi
done

# --- serve with a read-only root filesystem ----------------------------------------------------
# buildah run cannot make the root read-only, so run the image's filesystem directly: a
# read-only bind of the container's root in a private mount namespace, a fresh tmpfs at /tmp,
# and the image's own environment.
if ((serving)) && curl -s -o /dev/null --max-time 2 "$base_url/health"; then
    fail "serve with read-only root" "the first serve still answers on port $port after being stopped"
elif ((serving)); then
    ro_root=$work/ro-root
    mkdir -p "$ro_root"
    image_env=$(buildah inspect --type image "$IMAGE" | python3 -c '
import json, sys
print("\n".join(json.load(sys.stdin)["Docker"]["config"]["Env"]))')
    ro_env=()
    while IFS= read -r line; do ro_env+=("$line"); done <<<"$image_env"
    for ((i = 0; i < ${#app_env[@]}; i += 2)); do
        [[ ${app_env[i]} == -e ]] && ro_env+=("${app_env[i + 1]}")
    done
    ro_env+=(DATA_DIR=/tmp/expense-wise)
    # shellcheck disable=SC2016 # the inner script expands its own positional parameters
    setsid unshare --mount --pid --fork sh -c '
        set -e
        root=$1; ro_root=$2; shift 2
        mount --bind "$root" "$ro_root"
        mount -o remount,bind,ro "$ro_root"
        mount -t proc proc "$ro_root/proc"
        mount -t tmpfs -o mode=1777,size=256m tmpfs "$ro_root/tmp"
        mount --rbind /dev "$ro_root/dev"
        exec chroot --userspec=10001:10001 "$ro_root" /usr/bin/env -i "$@" sh -c "
            if touch /.write-probe 2>/dev/null; then echo root is writable; exit 3; fi
            cd /tmp && exec expense-wise serve"
    ' sh "$rootfs" "$ro_root" "${ro_env[@]}" >"$work/serve-ro.log" 2>&1 &
    ro_pid=$!
    background_pids+=("$ro_pid")
    start=$(now)
    if wait_for_200 "$base_url/ready" "$ro_pid" 60 >/dev/null; then
        api GET /api/v1/expenses
        if [[ $status == 200 ]]; then
            pass "serve with read-only root and tmpfs /tmp" "/ready after $(elapsed "$start" "$(now)")s, authenticated GET /api/v1/expenses 200"
        else
            fail "serve with read-only root and tmpfs /tmp" "/ready ok but GET /api/v1/expenses HTTP $status"
            show_log "$work/serve-ro.log"
        fi
    else
        fail "serve with read-only root and tmpfs /tmp" "no /ready 200 within 60s"
        show_log "$work/serve-ro.log"
    fi
    stop_group "$ro_pid"
else
    fail "serve with read-only root" "skipped: serve not ready"
fi

# =============================================================================================
echo "== summary"
printf '%s\n' "${summary[@]}"
if ((failures)); then
    echo "== RESULT: FAIL ($failures failed step(s))"
    exit 1
fi
echo "== RESULT: PASS"
