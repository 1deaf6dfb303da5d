#!/usr/bin/env bash
# Scale benchmark (issue 17), `make bench-scale`: reports, CSV export and import, searches and
# deletes of one account at 10k, 100k and 1M expenses (with other users beside it), each against
# the same work done directly in PostgreSQL in the same run, with the API workers' peak RSS.
# Needs PostgreSQL and Redis on loopback. About 25 minutes on 2 cores; a quick look:
#   BENCH_SIZES="10000 100000" BENCH_REPEATS=3 bash bench/scale.sh
# Settings and what is measured: the docstring of bench/scale_bench.py and bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python bench/scale_bench.py "$@"
