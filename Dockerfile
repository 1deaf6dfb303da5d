# syntax=docker/dockerfile:1
#
# One image for every Expense-Wise process type: the command picks API (serve, the default),
# worker, migrate, backup or restore. Only the runtime stage ships; it has no compilers, package
# caches or docs and writes only under /tmp, so it runs with a read-only root filesystem.
#
# Build-time only TLS trust: where outbound TLS goes through a local certificate authority, pass
# its bundle as a build secret (docker: --secret id=host-ca,src=FILE; scripts/image.sh does
# this). It is mounted for the dependency steps only and never stored in a layer.

# The default base is pinned by digest: debian:bookworm-slim as published on 2026-09-18
# (bookworm-20260918-slim, the multi-platform index), so a rebuild gets the same bytes until
# someone moves the pin on purpose. scripts/image.sh passes a locally built stand-in where no
# registry is reachable. checkov reads FROM without expanding ARGs, hence the skip; the pin
# itself is checked by tests/infra/test_dockerfile.py.
# checkov:skip=CKV_DOCKER_7:FROM ${BASE_IMAGE} resolves to the digest-pinned default above (tests/infra/test_dockerfile.py)
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim@sha256:3783cc01769c7b2b1b83a5c5ad96c815348e28ed7da68e2e3687004faa906251

FROM ${BASE_IMAGE} AS builder

# Bookworm's own Python 3.11, so the virtual environment links against the same interpreter
# the runtime stage installs from the same archive; binutils only for `strip` below.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        binutils ca-certificates python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*

ARG UV_VERSION=0.13.9
RUN --mount=type=secret,id=host-ca,target=/run/secrets/host-ca \
    if [ -s /run/secrets/host-ca ]; then export PIP_CERT=/run/secrets/host-ca; fi \
    && python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir "uv==${UV_VERSION}"

ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON=/usr/bin/python3.11 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_CACHE_DIR=/var/cache/uv
WORKDIR /src

# Dependencies first: this layer is reused until uv.lock or pyproject.toml change.
# Several wheels ship extension modules with symbol tables (uvloop alone is 13 MB); stripping
# them saves ~28 MB. Libraries vendored by auditwheel (*.libs/) are left alone: they were
# rewritten with patchelf and strip can corrupt such files.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/var/cache/uv \
    --mount=type=secret,id=host-ca,target=/run/secrets/host-ca \
    if [ -s /run/secrets/host-ca ]; then export SSL_CERT_FILE=/run/secrets/host-ca; fi \
    && /opt/uv/bin/uv sync --frozen --no-dev --no-editable --no-install-project \
    && find /opt/venv -name '*.so' -not -path '*.libs/*' -exec strip --strip-unneeded {} +

COPY README.md ./
COPY src ./src
RUN --mount=type=cache,target=/var/cache/uv \
    --mount=type=secret,id=host-ca,target=/run/secrets/host-ca \
    if [ -s /run/secrets/host-ca ]; then export SSL_CERT_FILE=/run/secrets/host-ca; fi \
    && /opt/uv/bin/uv sync --frozen --no-dev --no-editable


FROM ${BASE_IMAGE} AS runtime

# Keep docs, man pages and translations out even if the base image does not already do so
# (the official slim image does); copyright files stay for licence compliance.
RUN printf '%s\n' \
        'path-exclude /usr/share/doc/*' \
        'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' \
        'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/groff/*' \
        'path-exclude /usr/share/lintian/*' \
        'path-exclude /usr/share/locale/*' \
        >/etc/dpkg/dpkg.cfg.d/01-expense-wise-slim

# python3: the interpreter the venv links to. tesseract-ocr(-eng): receipt OCR in the worker.
# postgresql-client-15: pg_dump/pg_restore for `backup`, matching the PostgreSQL 15 server.
# Versions are not pinned: the base image tag and the Debian stable archive fix the release,
# and pinning exact point versions would break the build on every security update.
# hadolint ignore=DL3008
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates \
        postgresql-client-15 \
        python3 \
        tesseract-ocr \
        tesseract-ocr-eng \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
    && groupadd --system --gid 10001 app \
    && useradd --system --no-log-init --uid 10001 --gid app --home-dir /tmp --no-create-home \
        --shell /usr/sbin/nologin app

COPY --from=builder /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    APP_ENV=production \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/tmp/expense-wise

USER 10001:10001
WORKDIR /tmp
EXPOSE 8000

# Probes the API's own /health; process types without an HTTP server override or disable it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["expense-wise", "healthcheck"]

ENTRYPOINT ["expense-wise"]
CMD ["serve"]

# Last, so a new revision or build date only changes metadata, never a cached layer.
ARG VERSION=0.0.0+unknown
ARG REVISION=unknown
ARG CREATED=unknown
ARG SOURCE=""
ARG BASE_IMAGE
LABEL org.opencontainers.image.title="expense-wise" \
      org.opencontainers.image.description="Expense-Wise expense-tracking REST API: API, worker, migrations and backups" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.base.name="${BASE_IMAGE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}"
