#!/usr/bin/env bash
# `make test`: install what the suite needs, start PostgreSQL and Redis when they are not
# already running (never a second copy), then run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '==> %s\n' "$*"; }
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

need_packages=()
command -v tesseract >/dev/null || need_packages+=(tesseract-ocr tesseract-ocr-eng)
command -v pg_ctlcluster >/dev/null || command -v postgres >/dev/null \
  || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || need_packages+=(postgresql)
command -v pg_dump >/dev/null || need_packages+=(postgresql-client)
command -v redis-server >/dev/null || need_packages+=(redis-server)
command -v curl >/dev/null || need_packages+=(curl)
# The browser that Playwright drives in tests/web (Playwright never downloads its own).
command -v chromium >/dev/null || need_packages+=(chromium)
# The TypeScript client check (tests/test_generated_clients.py): openapi-typescript and tsc.
command -v node >/dev/null || need_packages+=(nodejs)
command -v npm >/dev/null || need_packages+=(npm)
# nginx in front of `serve` in tests/infra/test_proxy.py (make infra-check).
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need_packages+=(nginx)
if [ ${#need_packages[@]} -gt 0 ]; then
  log "installing Debian packages: ${need_packages[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_packages[@]}" >/dev/null
fi
# promtool and the Prometheus server for the alerting tests (tests/monitoring); without
# the recommended node exporter, which would start a service of its own.
if ! command -v promtool >/dev/null || ! command -v prometheus >/dev/null; then
  log "installing Debian packages: prometheus"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    prometheus >/dev/null
fi

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ! pg_up; then
  log "starting PostgreSQL"
  cluster_version=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  if [ -z "$cluster_version" ]; then
    cluster_version=$(ls /usr/lib/postgresql | sort -V | tail -n1)
    $SUDO pg_createcluster "$cluster_version" main >/dev/null
  fi
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$cluster_version" main start
  for _ in $(seq 1 30); do pg_up && break; sleep 1; done
fi
# The suite connects as postgres over TCP without a password (trust on 127.0.0.1), as the
# local servers here are set up; on a fresh cluster make that true for loopback only.
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  log "allowing trust auth for postgres on 127.0.0.1 (test machine only)"
  hba=$($SUDO -u postgres psql -Atqc 'show hba_file')
  $SUDO sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
  $SUDO -u postgres psql -qc 'select pg_reload_conf()' >/dev/null
fi

if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /tmp/expense-wise-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /tmp/expense-wise-redis --logfile /tmp/expense-wise-redis/redis.log
  for _ in $(seq 1 30); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

bash scripts/bootstrap-uv.sh
UV=$(command -v uv || echo .tools/bin/uv)
log "installing Python dependencies from uv.lock"
"$UV" sync --frozen --all-groups --quiet
touch .venv/.synced
log "installing the TypeScript client tools from clients/package-lock.json"
(cd clients && npm ci --no-audit --no-fund --loglevel=error >/dev/null)

log "running the test suite"
exec .venv/bin/pytest -q "$@"
