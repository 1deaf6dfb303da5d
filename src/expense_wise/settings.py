"""Settings: read once from the environment into typed structs, validated at start.

Every problem is collected before failing, so an operator sees all bad variables in one message
instead of fixing them one restart at a time.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal, TypeVar

import msgspec

from expense_wise import __version__
from expense_wise.setting_values import (
    load_secrets_manager_values,
    parse_database_url,
    parse_duration,
    parse_milliseconds,
    parse_networks,
    parse_origins,
    parse_port,
    parse_positive_int,
    parse_redis_url,
    parse_seconds_or_zero,
    parse_sentry_dsn,
    parse_size,
)

AppEnv = Literal["development", "production", "test"]
# Which OCR engine reads receipts; `auto` asks RapidOCR only when Tesseract's reading is
# doubtful (see domain/receipts/extraction/strategy.py).
OcrEngine = Literal["tesseract", "rapidocr", "auto"]
OCR_ENGINES: tuple[OcrEngine, ...] = ("tesseract", "rapidocr", "auto")
DEFAULT_OCR_ENGINE: OcrEngine = "auto"
DEVELOPMENT_JWT_SECRET = "development-only-secret-change-me-0123456789"  # noqa: S105
MIN_PRODUCTION_SECRET_LENGTH = 32


class SettingsError(Exception):
    """One or more environment variables are missing or malformed."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "invalid configuration:\n" + "\n".join(f"  - {problem}" for problem in problems)
        )


class ServerSettings(msgspec.Struct, frozen=True):
    host: str
    port: int
    workers: int
    log_level: str
    allowed_origins: tuple[str, ...]
    max_request_bytes: int
    import_max_rows: int  # rows one CSV import may hold
    shutdown_timeout: int
    public_base_url: str
    # Base of the links in emails: this service's own pages, or another front end's.
    frontend_url: str
    # Networks whose X-Forwarded-For hops are believed (the ingress, the load balancer);
    # empty trusts no one, so a client cannot choose the address it is rate-limited by.
    trusted_proxies: tuple[str, ...]
    # Strict-Transport-Security max-age sent on HTTPS requests; 0 sends none.
    hsts_max_age: int
    idempotency_key_ttl: int  # seconds an Idempotency-Key is remembered
    # Deadlines of a request's headers (from its first byte) and body (from its headers):
    # slower clients are disconnected (see slow_clients.py).
    header_timeout: int = 10
    body_timeout: int = 60
    # Port of a separate listener for /metrics (then not on the API's port, which the
    # ingress exposes); None serves /metrics beside the API.
    metrics_port: int | None = None


class DatabaseSettings(msgspec.Struct, frozen=True):
    url: str
    pool_size: int
    pool_timeout: int  # seconds a request waits for a free connection before a 503

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")


class RedisSettings(msgspec.Struct, frozen=True):
    url: str | None
    key_prefix: str
    # How long a request waits for its rate-limit count before it goes uncounted (fail open).
    rate_limit_timeout_ms: int = 100

    @property
    def queue_name(self) -> str:
        return f"{self.key_prefix}queue"


class WorkerSettings(msgspec.Struct, frozen=True):
    concurrency: int
    metrics_port: int | None
    # How long owed receipt work may sit unnoticed: the grace period of a pending receipt and
    # the lease of one being processed, after which the sweeper takes it up again.
    receipt_stale_seconds: int
    ocr_engine: OcrEngine


class AuthSettings(msgspec.Struct, frozen=True):
    jwt_secret: str
    access_token_ttl: int
    refresh_token_ttl: int
    rate_limit_window_ms: int
    rate_limit_max: int
    auth_rate_limit: int
    # Seconds an API process trusts its copy of a user's tokens_valid_after: the longest a
    # JWT stays usable on another process after a reset, logout-all or account deletion.
    revocation_check_interval: int


class StorageSettings(msgspec.Struct, frozen=True):
    data_dir: Path
    s3_bucket: str | None
    aws_region: str | None
    aws_endpoint_url: str | None
    receipt_max_bytes: int

    @property
    def receipts_dir(self) -> Path:
        return self.data_dir / "receipts"


class EmailSettings(msgspec.Struct, frozen=True):
    smtp_host: str | None
    smtp_port: int
    smtp_user: str | None
    smtp_password: str | None
    smtp_from: str
    maildir: Path


class BackupSettings(msgspec.Struct, frozen=True):
    s3_bucket: str | None
    s3_prefix: str
    local_dir: Path


class QuotaSettings(msgspec.Struct, frozen=True):
    """What one account may hold, so that no client can grow the database without bound."""

    categories: int
    recurring_expenses: int
    personal_tokens: int
    budgets: int
    # How far back a recurring expense may start: every occurrence since then is created.
    recurring_backfill_days: int


class ErrorTrackingSettings(msgspec.Struct, frozen=True):
    sentry_dsn: str | None  # unset: error tracking off
    environment: str
    release: str


class Settings(msgspec.Struct, frozen=True):
    app_env: AppEnv
    server: ServerSettings
    database: DatabaseSettings
    redis: RedisSettings
    worker: WorkerSettings
    auth: AuthSettings
    storage: StorageSettings
    email: EmailSettings
    backup: BackupSettings
    error_tracking: ErrorTrackingSettings
    quotas: QuotaSettings

    @property
    def embedded(self) -> bool:
        """True when background jobs run inside the API process (no Redis configured)."""
        return self.redis.url is None

    def describe(self) -> dict[str, str]:
        """What the process runs on, for the first log lines; never includes secrets."""
        return {
            "app_env": self.app_env,
            "database": "sqlite" if self.database.is_sqlite else "postgresql",
            "jobs": "in-process" if self.embedded else "arq on redis",
            "receipts": (
                f"s3://{self.storage.s3_bucket}"
                if self.storage.s3_bucket
                else str(self.storage.receipts_dir)
            ),
            "email": (
                f"smtp {self.email.smtp_host}:{self.email.smtp_port}"
                if self.email.smtp_host
                else f"maildir {self.email.maildir}"
            ),
        }


def parse_ocr_engine(value: str) -> OcrEngine:
    engine = value.strip().lower()
    for known in OCR_ENGINES:
        if engine == known:
            return known
    raise ValueError(f"expected one of {', '.join(OCR_ENGINES)}")


T = TypeVar("T")


class _Reader:
    """Reads variables, recording problems instead of raising at the first one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        if value is None or value.strip() == "":
            return None
        return value

    def get(self, name: str, parse: Callable[[str], T], default: T) -> T:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return parse(value)
        except ValueError as error:
            self.problems.append(f"{name}={value!r}: {error}")
            return default

    def optional(self, name: str, parse: Callable[[str], T]) -> T | None:
        value = self.raw(name)
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as error:
            self.problems.append(f"{name}={value!r}: {error}")
            return None


def _str(value: str) -> str:
    return value.strip()


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from `env` (default: the process environment) or raise SettingsError."""
    source: dict[str, str] = dict(os.environ if env is None else env)
    if source.get("SECRETS_MANAGER_PREFIX"):
        source = load_secrets_manager_values(source)
    read = _Reader(source)

    app_env_raw = read.raw("APP_ENV") or "development"
    if app_env_raw not in ("development", "production", "test"):
        read.problems.append(f"APP_ENV={app_env_raw!r}: expected development, production or test")
        app_env_raw = "development"
    app_env: AppEnv = app_env_raw  # type: ignore[assignment]
    production = app_env == "production"

    data_dir = Path(read.get("DATA_DIR", _str, "var"))
    log_level = read.get("LOG_LEVEL", _str, "INFO").upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        read.problems.append(
            f"LOG_LEVEL={log_level!r}: expected DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
        log_level = "INFO"
    port = read.get("PORT", parse_port, 8000)
    public_base_url = read.get("PUBLIC_BASE_URL", _str, f"http://127.0.0.1:{port}").rstrip("/")
    server = ServerSettings(
        host=read.get("HOST", _str, "127.0.0.1"),
        port=port,
        workers=read.get("WEB_CONCURRENCY", parse_positive_int, 1),
        log_level=log_level,
        allowed_origins=read.get("ALLOWED_ORIGINS", parse_origins, ()),
        max_request_bytes=read.get("MAX_REQUEST_BYTES", parse_size, 1024 * 1024),
        import_max_rows=read.get("IMPORT_MAX_ROWS", parse_positive_int, 50_000),
        shutdown_timeout=read.get("SHUTDOWN_TIMEOUT", parse_duration, 30),
        public_base_url=public_base_url,
        frontend_url=read.get("FRONTEND_URL", _str, public_base_url).rstrip("/"),
        trusted_proxies=read.get("TRUSTED_PROXIES", parse_networks, ()),
        header_timeout=read.get("SERVER_HEADER_TIMEOUT", parse_duration, 10),
        body_timeout=read.get("SERVER_BODY_TIMEOUT", parse_duration, 60),
        metrics_port=read.optional("METRICS_PORT", parse_port),
        hsts_max_age=read.get("HSTS_MAX_AGE", parse_seconds_or_zero, 365 * 86400),
        idempotency_key_ttl=read.get("IDEMPOTENCY_KEY_TTL", parse_duration, 24 * 3600),
    )

    if server.metrics_port is not None and server.metrics_port == port:
        read.problems.append(f"METRICS_PORT={server.metrics_port}: must differ from PORT")
    database_url = read.get("DATABASE_URL", parse_database_url, "")
    if not database_url:
        if production and read.raw("DATABASE_URL") is None:
            read.problems.append("DATABASE_URL: required when APP_ENV=production")
        database_url = f"sqlite+aiosqlite:///{(data_dir / 'expense-wise.db').as_posix()}"
    database = DatabaseSettings(
        url=database_url,
        pool_size=read.get("DATABASE_POOL_SIZE", parse_positive_int, 10),
        pool_timeout=read.get("DATABASE_POOL_TIMEOUT", parse_duration, 10),
    )

    redis = RedisSettings(
        url=read.optional("REDIS_URL", parse_redis_url),
        key_prefix=read.get("REDIS_KEY_PREFIX", _str, "expense-wise:"),
        rate_limit_timeout_ms=read.get("RATE_LIMIT_REDIS_TIMEOUT", parse_milliseconds, 100),
    )

    worker = WorkerSettings(
        concurrency=read.get("WORKER_CONCURRENCY", parse_positive_int, 2),
        metrics_port=read.optional("WORKER_METRICS_PORT", parse_port),
        receipt_stale_seconds=read.get("RECEIPT_STALE_SECONDS", parse_duration, 60),
        ocr_engine=read.get("OCR_ENGINE", parse_ocr_engine, DEFAULT_OCR_ENGINE),
    )

    jwt_secret = read.raw("JWT_SECRET") or ""
    if production:
        if not jwt_secret:
            read.problems.append("JWT_SECRET: required when APP_ENV=production")
        elif jwt_secret == DEVELOPMENT_JWT_SECRET or "change-me" in jwt_secret.lower():
            read.problems.append(
                "JWT_SECRET: the development secret must not be used in production"
            )
        elif len(jwt_secret) < MIN_PRODUCTION_SECRET_LENGTH:
            read.problems.append(
                f"JWT_SECRET: must be at least {MIN_PRODUCTION_SECRET_LENGTH} characters "
                "in production"
            )
    auth = AuthSettings(
        # Empty outside production when unset: the app generates one into DATA_DIR at start
        # (with_local_jwt_secret), so no instance accepts tokens signed with a public value.
        jwt_secret=jwt_secret,
        access_token_ttl=read.get("ACCESS_TOKEN_TTL", parse_duration, 15 * 60),
        refresh_token_ttl=read.get("JWT_EXPIRES_IN", parse_duration, 7 * 86400),
        rate_limit_window_ms=read.get("RATE_LIMIT_WINDOW", parse_positive_int, 3_600_000),
        rate_limit_max=read.get("RATE_LIMIT_MAX", parse_positive_int, 1000),
        auth_rate_limit=read.get("AUTH_RATE_LIMIT", parse_positive_int, 10),
        revocation_check_interval=read.get("REVOCATION_CHECK_INTERVAL", parse_duration, 5),
    )

    storage = StorageSettings(
        data_dir=data_dir,
        s3_bucket=read.optional("AWS_S3_BUCKET", _str),
        aws_region=read.optional("AWS_REGION", _str),
        aws_endpoint_url=read.optional("AWS_ENDPOINT_URL", _str),
        receipt_max_bytes=read.get("RECEIPT_MAX_BYTES", parse_size, 10 * 1024 * 1024),
    )

    email = EmailSettings(
        smtp_host=read.optional("SMTP_HOST", _str),
        smtp_port=read.get("SMTP_PORT", parse_port, 587),
        smtp_user=read.optional("SMTP_USER", _str),
        smtp_password=read.raw("SMTP_PASSWORD"),
        smtp_from=read.get("SMTP_FROM", _str, "Expense-Wise <no-reply@expense-wise.local>"),
        maildir=data_dir / "maildir",
    )

    backup = BackupSettings(
        s3_bucket=read.optional("BACKUP_S3_BUCKET", _str) or storage.s3_bucket,
        s3_prefix=read.get("BACKUP_S3_PREFIX", _str, "backups/"),
        local_dir=Path(read.get("BACKUP_DIR", _str, str(data_dir / "backups"))),
    )

    environment: str = app_env
    error_tracking = ErrorTrackingSettings(
        sentry_dsn=read.optional("SENTRY_DSN", parse_sentry_dsn),
        environment=read.get("SENTRY_ENVIRONMENT", _str, environment),
        release=read.get("SENTRY_RELEASE", _str, f"expense-wise@{__version__}"),
    )

    quotas = QuotaSettings(
        categories=read.get("QUOTA_CATEGORIES", parse_positive_int, 500),
        recurring_expenses=read.get("QUOTA_RECURRING_EXPENSES", parse_positive_int, 100),
        personal_tokens=read.get("QUOTA_PERSONAL_TOKENS", parse_positive_int, 20),
        budgets=read.get("QUOTA_BUDGETS", parse_positive_int, 100),
        recurring_backfill_days=read.get("RECURRING_MAX_BACKFILL_DAYS", parse_positive_int, 366),
    )

    if read.problems:
        raise SettingsError(read.problems)
    return Settings(
        app_env=app_env,
        server=server,
        database=database,
        redis=redis,
        worker=worker,
        auth=auth,
        storage=storage,
        email=email,
        backup=backup,
        error_tracking=error_tracking,
        quotas=quotas,
    )


JWT_SECRET_FILE = "jwt-secret"  # noqa: S105 - a file name


def with_local_jwt_secret(settings: Settings) -> Settings:
    """`settings` with a signing key: JWT_SECRET when set, else the random one kept in
    DATA_DIR/jwt-secret, created (mode 0600) on first start and reused after, so tokens survive
    restarts and every process of one DATA_DIR agrees. Production always sets JWT_SECRET."""
    if settings.auth.jwt_secret:
        return settings
    path = settings.storage.data_dir / JWT_SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and linked into place: a concurrent first start of another process,
        # or a crash mid-write, never leaves a partial or second key behind.
        temporary = path.with_name(f".{JWT_SECRET_FILE}.{os.getpid()}")
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_urlsafe(48) + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    secret = path.read_text().strip()
    if len(secret) < MIN_PRODUCTION_SECRET_LENGTH:
        raise SettingsError([f"{path}: holds no usable JWT secret; delete it to make a new one"])
    return msgspec.structs.replace(
        settings, auth=msgspec.structs.replace(settings.auth, jwt_secret=secret)
    )
