#!/usr/bin/env bash
# Offline checks of everything under k8s/, nomad/, terraform/, the Ansible tree and
# the Dockerfile. Prints one summary line per check and exits non-zero if any failed.
# Needs `uv sync --all-groups`, kubectl or kustomize, terraform with the hashicorp/aws
# mirror (TF_PLUGIN_MIRROR, default /opt/tf-plugins), ../shared/terraform-modules
# (TF_MODULES_DIR) and nginx (scripts/test.sh installs it).
#   bash scripts/check-infra.sh
set -uo pipefail

cd "$(dirname "$0")/.."
KUBERNETES_VERSION="${KUBERNETES_VERSION:-1.30.0}"
# CRDs that kubernetes-validate carries no schema for (External Secrets Operator,
# Prometheus Operator).
CRD_KINDS="ExternalSecret SecretStore PrometheusRule ServiceMonitor PodMonitor"

# Use the project venv directly when the infra group is installed in it (fast, and
# works where uv is not on PATH); otherwise let uv install and run the group.
if [ -x .venv/bin/ansible-lint ]; then
  export PATH="$PWD/.venv/bin:$PATH"
  RUN=()
elif command -v uv >/dev/null 2>&1; then
  RUN=(uv run --quiet --group infra)
elif [ -x .tools/bin/uv ]; then
  RUN=(.tools/bin/uv run --quiet --group infra)
else
  echo "check-infra: run 'uv sync --all-groups' first" >&2
  exit 2
fi

# checkov ships its own fork of python-hcl2 (bc-python-hcl2) under the same module name
# `hcl2`, so it is not in the project venv: there the two overwrite each other's files and
# the Nomad/Terraform parsing tests read a mix. It runs from an isolated uv tool
# environment at this pinned version instead.
CHECKOV_VERSION=3.3.30
UV_BIN="$(command -v uv || { [ -x .tools/bin/uv ] && echo .tools/bin/uv; } || true)"
if [ -z "$UV_BIN" ]; then
  echo "check-infra: uv is needed to run checkov (make .venv/.synced installs it)" >&2
  exit 2
fi
CHECKOV=("$UV_BIN" tool run --quiet --from "checkov==$CHECKOV_VERSION" checkov)

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
failures=0

# check NAME COMMAND...: run quietly, print PASS/FAIL with the duration, and the
# tail of the output on failure.
check() {
  local name="$1" log="$WORK/$1.log" start=$SECONDS
  shift
  if "$@" >"$log" 2>&1; then
    printf 'PASS  %-28s %4ss\n' "$name" "$((SECONDS - start))"
  else
    printf 'FAIL  %-28s %4ss\n' "$name" "$((SECONDS - start))"
    tail -n 40 "$log" | sed 's/^/      | /'
    failures=$((failures + 1))
  fi
}

skip() {
  printf 'SKIP  %-28s       %s\n' "$1" "$2"
}

kustomize_build() {
  if command -v kubectl >/dev/null 2>&1; then
    kubectl kustomize "$1"
  elif command -v kustomize >/dev/null 2>&1; then
    kustomize build "$1"
  else
    echo "neither kubectl nor kustomize is on PATH" >&2
    return 1
  fi
}

build_overlays() {
  local overlay name
  mkdir -p "$WORK/k8s"
  kustomize_build k8s/base >/dev/null || return 1
  for overlay in k8s/overlays/*/; do
    name="$(basename "$overlay")"
    kustomize_build "$overlay" >"$WORK/k8s/$name.yaml" || return 1
    echo "built $name: $(grep -c '^kind:' "$WORK/k8s/$name.yaml") resources"
  done
}

validate_manifests() {
  "${RUN[@]}" python - "$KUBERNETES_VERSION" "$CRD_KINDS" "$WORK"/k8s/*.yaml k8s/base/secret.template.yaml <<'PY'
import sys

import yaml
from kubernetes_validate import utils

version, crd_kinds, files = sys.argv[1], set(sys.argv[2].split()), sys.argv[3:]
failed = 0
for path in files:
    for doc in yaml.safe_load_all(open(path)):
        if not doc:
            continue
        where = f"{path}: {doc['kind']}/{doc['metadata']['name']}"
        try:
            utils.validate(doc, version, strict=True)
        except utils.SchemaNotFoundError:
            if doc["kind"] not in crd_kinds:
                failed += 1
                print(f"no schema for {where}")
            else:
                print(f"skipped CRD {where}")
        except Exception as error:  # noqa: BLE001 - report every invalid manifest
            failed += 1
            print(f"invalid {where}: {error}")
print(f"validated against Kubernetes {version}; {failed} invalid")
sys.exit(1 if failed else 0)
PY
}

parse_hcl() {
  "${RUN[@]}" python - <<'PY'
import pathlib
import sys

import hcl2

files = sorted(pathlib.Path("nomad").glob("*.hcl"))
files += sorted(pathlib.Path("terraform").rglob("*.tf"))
files += sorted(pathlib.Path("terraform").rglob("*.tfvars"))
failed = 0
for path in files:
    try:
        hcl2.loads(path.read_text())
    except Exception as error:  # noqa: BLE001 - report every file that does not parse
        failed += 1
        print(f"{path}: {error}")
print(f"parsed {len(files)} files, {failed} failed")
sys.exit(1 if failed else 0)
PY
}

syntax_check() {
  local inventory
  for inventory in inventory/*/; do
    "${RUN[@]}" ansible-playbook --syntax-check -i "$inventory" playbooks/*.yml || return 1
  done
}

if command -v terraform >/dev/null 2>&1; then
  check terraform-fmt terraform fmt -check -recursive terraform
else
  skip terraform-fmt "terraform is not on PATH"
fi
check hcl-parse parse_hcl
check kustomize-build build_overlays
check kubernetes-validate validate_manifests
check checkov-kubernetes "${CHECKOV[@]}" --config-file .checkov.yaml --framework kubernetes -d "$WORK/k8s"
check checkov-terraform "${CHECKOV[@]}" --config-file .checkov.yaml --framework terraform -d terraform
check ansible-syntax-check syntax_check
check ansible-lint "${RUN[@]}" ansible-lint --offline
# Real validation (tests/infra, marker `infra`): terraform init/validate/test with the
# provider mirror and a local module registry, the app's AWS calls under the rendered IAM
# policies (moto, IAM enforced), serve behind nginx, and the Nomad playbooks against a typed
# fake of Nomad's API. A missing tool or mirror skips locally and fails under CI=true.
check real-validation "${RUN[@]}" python -m pytest -q -p no:cacheprovider -m infra tests/infra
if [ -f Dockerfile ]; then
  check checkov-dockerfile "${CHECKOV[@]}" --config-file .checkov.yaml --framework dockerfile -f Dockerfile
  check hadolint "${RUN[@]}" hadolint Dockerfile
else
  skip checkov-dockerfile "no ./Dockerfile"
  skip hadolint "no ./Dockerfile"
fi

if [ "$failures" -gt 0 ]; then
  echo "check-infra: $failures check(s) failed"
  exit 1
fi
echo "check-infra: all checks passed"
