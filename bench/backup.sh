#!/usr/bin/env bash
# Times `expense-wise backup create/restore` of 1,000,000 expenses against plain pg_dump -Fc
# and pg_restore of the same database on the same run, and the RTO of a full
# `backup restore --latest --yes --force`. Needs PostgreSQL (BENCH_DATABASE_URL, default
# postgresql://postgres@127.0.0.1:5432/postgres) and pg_dump/pg_restore of the server's major
# version. Options: BENCH_EXPENSES (rows), BENCH_REPEATS (runs per tool), BENCH_JOBS
# (pg_restore --jobs for both). Results: bench/results/backup-<timestamp>.json.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/backup_bench.py "$@"
