#!/usr/bin/env bash
# Build the Expense-Wise container image (make image).
#
# Uses `docker build` where a Docker engine answers, buildah otherwise; for buildah it installs
# buildah/debootstrap when missing and creates the local debian:bookworm-slim stand-in
# (scripts/make-base-image.sh) when the base image is not in local storage.
#
# Environment:
#   IMAGE       tag to build (default: expense-wise:ci)
#   BASE_IMAGE  base for both stages (default: the Dockerfile's digest-pinned
#               debian:bookworm-slim for docker, localhost/debian:bookworm-slim for buildah)
#   ENGINE      force "docker" or "buildah" instead of detecting
#   NO_CACHE=1  rebuild every step (cold build timing, fresh security updates)
set -euo pipefail

cd "$(dirname "$0")/.."

IMAGE=${IMAGE:-expense-wise:ci}

log() { printf '[image] %s\n' "$*" >&2; }

engine=${ENGINE:-}
if [[ -z $engine ]]; then
    if command -v docker >/dev/null && timeout 10 docker info >/dev/null 2>&1; then
        engine=docker
    else
        engine=buildah
    fi
fi

version=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [[ -n $(git status --porcelain -- src pyproject.toml uv.lock 2>/dev/null) ]]; then
    revision+="-dirty"
fi
build_args=()
[[ ${NO_CACHE:-0} == 1 ]] && build_args+=(--no-cache)
build_args+=(
    --build-arg "VERSION=$version"
    --build-arg "REVISION=$revision"
    --build-arg "CREATED=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    --build-arg "SOURCE=$(git remote get-url origin 2>/dev/null || true)"
)

# A local certificate authority for outbound TLS (set by the environment) reaches the build as a
# secret mount: available to the dependency steps, never written into a layer.
host_ca=${PIP_CERT:-${SSL_CERT_FILE:-}}
if [[ -n $host_ca && -r $host_ca ]]; then
    build_args+=(--secret "id=host-ca,src=$host_ca")
fi

start=$SECONDS
case $engine in
docker)
    # Without BASE_IMAGE the Dockerfile's digest-pinned default applies.
    [[ -n ${BASE_IMAGE:-} ]] && build_args+=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
    log "docker build $IMAGE (base ${BASE_IMAGE:-the Dockerfile default})"
    DOCKER_BUILDKIT=1 docker build "${build_args[@]}" -t "$IMAGE" .
    ;;
buildah)
    base=${BASE_IMAGE:-localhost/debian:bookworm-slim}
    if ! command -v buildah >/dev/null || ! buildah inspect --type image "$base" >/dev/null 2>&1; then
        BASE_IMAGE=$base bash scripts/make-base-image.sh
    fi
    log "buildah bud $IMAGE (base $base)"
    # --format docker keeps HEALTHCHECK (the OCI format has no field for it); --layers reuses
    # unchanged steps; --pull=never because the base only exists locally.
    buildah bud --isolation=chroot --format docker --layers --pull=never \
        --build-arg "BASE_IMAGE=$base" "${build_args[@]}" -t "$IMAGE" .
    ;;
*)
    log "unknown ENGINE '$engine' (docker or buildah)"
    exit 2
    ;;
esac
log "built $IMAGE with $engine in $((SECONDS - start))s"
