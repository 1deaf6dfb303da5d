#!/usr/bin/env bash
# Build a local stand-in for the official debian:bookworm-slim image from Debian's own packages.
#
# Machines without a container registry cannot pull the official image, so we debootstrap a
# minbase bookworm root filesystem and commit it with buildah under the same name the Dockerfile
# expects (localhost/debian:bookworm-slim). Where the official image is reachable this script is
# not needed.
#
# Environment:
#   BASE_IMAGE     image name to create (default: localhost/debian:bookworm-slim)
#   DEBIAN_MIRROR  mirror for debootstrap (default: http://deb.debian.org/debian)
#   FORCE=1        rebuild even if the image already exists
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-localhost/debian:bookworm-slim}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}

log() { printf '[make-base-image] %s\n' "$*" >&2; }

if [[ ${FORCE:-0} != 1 ]] && buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    log "$BASE_IMAGE already exists; nothing to do (FORCE=1 rebuilds it)"
    exit 0
fi

if [[ $(id -u) != 0 ]]; then
    log "debootstrap needs root"
    exit 1
fi

missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

workdir=$(mktemp -d /tmp/ew-base.XXXXXX)
container=""
cleanup() {
    if [[ -n $container ]]; then buildah rm "$container" >/dev/null 2>&1 || true; fi
    rm -rf "$workdir"
}
trap cleanup EXIT

rootfs=$workdir/rootfs
log "debootstrap minbase bookworm from $DEBIAN_MIRROR"
debootstrap --variant=minbase bookworm "$rootfs" "$DEBIAN_MIRROR" >"$workdir/debootstrap.log" 2>&1 || {
    tail -n 30 "$workdir/debootstrap.log" >&2
    exit 1
}

# Match the official image: deb822 sources with bookworm, bookworm-updates and bookworm-security.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF

# The official slim image ships without apt lists, caches, docs, man pages and locales, and
# keeps dpkg from installing them later; do the same so sizes measured on top of it are honest.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{man,info,groff,lintian,linda}/* "$rootfs"/var/lib/apt/lists/* \
    "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/log/* "$rootfs"/tmp/*
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
# Host-specific files debootstrap copied in; a container runtime provides its own.
: >"$rootfs/etc/resolv.conf"
rm -f "$rootfs/etc/hostname"

tar --numeric-owner -C "$rootfs" -cf "$workdir/rootfs.tar" .
container=$(buildah from scratch)
buildah add "$container" "$workdir/rootfs.tar" / >/dev/null
buildah config --cmd bash --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --label org.opencontainers.image.description="Local debian:bookworm-slim stand-in built by debootstrap" \
    "$container"
buildah commit --quiet "$container" "$BASE_IMAGE" >/dev/null
log "created $BASE_IMAGE ($(buildah images --format '{{.Size}}' "$BASE_IMAGE"))"
