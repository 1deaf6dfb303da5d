"""Parsers of single environment values (durations, sizes, URLs, networks): each returns the
typed value or raises ValueError with what is wrong, which `load_settings` collects."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

# Secret names the optional AWS Secrets Manager loader may fill in.
SECRET_VARIABLES = ("DATABASE_URL", "JWT_SECRET", "REDIS_URL", "SMTP_USER", "SMTP_PASSWORD")

_DURATION = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_SIZE = re.compile(r"^\s*(\d+)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_BYTES = {
    None: 1,
    "b": 1,
    "kb": 1000,
    "kib": 1024,
    "mb": 1000**2,
    "mib": 1024**2,
    "gb": 1000**3,
    "gib": 1024**3,
}


def parse_duration(value: str) -> int:
    """'15m', '7d', '3600' (seconds) -> whole seconds."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError("expected a duration such as 900, 15m, 12h or 7d")
    seconds = int(int(match.group(1)) * _DURATION_SECONDS[match.group(2)])
    if seconds <= 0:
        raise ValueError("must be positive")
    return seconds


def parse_milliseconds(value: str) -> int:
    """'100', '100ms', '1s' -> whole milliseconds (a bare number is milliseconds)."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError("expected milliseconds such as 100, 100ms or 1s")
    milliseconds = int(int(match.group(1)) * (_DURATION_SECONDS[match.group(2) or "ms"] * 1000))
    if milliseconds <= 0:
        raise ValueError("must be positive")
    return milliseconds


def parse_seconds_or_zero(value: str) -> int:
    """A duration like parse_duration, or 0 (off)."""
    return 0 if value.strip() == "0" else parse_duration(value)


def parse_size(value: str) -> int:
    """'10MiB', '1048576' -> bytes."""
    match = _SIZE.match(value)
    if not match:
        raise ValueError("expected a size such as 1048576, 512KiB or 10MiB")
    unit = match.group(2).lower() if match.group(2) else None
    size = int(match.group(1)) * _SIZE_BYTES[unit]
    if size <= 0:
        raise ValueError("must be positive")
    return size


def parse_positive_int(value: str) -> int:
    number = int(value.strip())
    if number <= 0:
        raise ValueError("must be a positive integer")
    return number


def parse_port(value: str) -> int:
    port = int(value.strip())
    if not 0 < port < 65536:
        raise ValueError("must be between 1 and 65535")
    return port


def parse_database_url(value: str) -> str:
    url = value.strip()
    # Accept the common spellings and normalise them to the async drivers we ship.
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    if url.startswith(("postgresql+psycopg://", "sqlite+aiosqlite:///")):
        return url
    raise ValueError("expected postgresql://... or sqlite:///path")


def parse_redis_url(value: str) -> str:
    url = value.strip()
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("expected redis://host:port/db or rediss://...")
    return url


def parse_networks(value: str) -> tuple[str, ...]:
    """'10.20.0.0/16, 127.0.0.1' -> normalised CIDRs; a bare address is one host."""
    networks = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            networks.append(str(ipaddress.ip_network(item)))
        except ValueError as error:
            raise ValueError(f"{item!r} is not a CIDR such as 10.0.0.0/16 ({error})") from error
    return tuple(networks)


def parse_sentry_dsn(value: str) -> str:
    dsn = value.strip()
    scheme, _, rest = dsn.partition("://")
    key, at, location = rest.partition("@")
    if scheme not in ("http", "https") or not key or not at or "/" not in location:
        raise ValueError("expected https://<key>@<host>/<project id>")
    return dsn


def parse_origins(value: str) -> tuple[str, ...]:
    origins = tuple(origin.strip() for origin in value.split(",") if origin.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise ValueError(f"{origin!r} is not an http(s) origin")
    return origins


def load_secrets_manager_values(env: dict[str, str]) -> dict[str, str]:
    """Fill secret variables from AWS Secrets Manager (`<prefix>/<NAME>`) unless already set."""
    import boto3  # imported lazily: only deployments that use Secrets Manager pay for it

    prefix = env["SECRETS_MANAGER_PREFIX"].rstrip("/")
    client: Any = boto3.client(
        "secretsmanager",
        region_name=env.get("AWS_REGION") or None,
        endpoint_url=env.get("AWS_SECRETS_MANAGER_ENDPOINT_URL") or None,
    )
    merged = dict(env)
    for name in SECRET_VARIABLES:
        if merged.get(name):
            continue
        try:
            response = client.get_secret_value(SecretId=f"{prefix}/{name}")
        except client.exceptions.ResourceNotFoundException:
            continue
        merged[name] = response["SecretString"]
    return merged
