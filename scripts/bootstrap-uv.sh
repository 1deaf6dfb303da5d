#!/usr/bin/env bash
# Installs uv (the lock-file-driven Python package manager) into .tools/ when it is not on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null && exit 0
[ -x .tools/bin/uv ] && exit 0
python3 -m venv .tools
.tools/bin/pip install --quiet 'uv>=0.5,<1'
