"""Run Alembic programmatically, so `expense-wise migrate` needs no alembic.ini on disk."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from sqlalchemy import create_engine

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def sync_url(url: str) -> str:
    """The async URL's synchronous twin (Alembic runs synchronously)."""
    return url.replace("sqlite+aiosqlite", "sqlite", 1)


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", sync_url(database_url).replace("%", "%%"))
    return config


def ensure_database_directory(database_url: str) -> None:
    """Create the directory of a SQLite file (SQLite creates the file, not its directory)."""
    if database_url.startswith("sqlite"):
        database = database_url.split("///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)


def upgrade(database_url: str, revision: str = "head") -> None:
    ensure_database_directory(database_url)
    command.upgrade(alembic_config(database_url), revision)


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def head_revision() -> str:
    head = _scripts().get_current_head()
    assert head is not None
    return head


def pending_revisions(current: str | None) -> list[str] | None:
    """The migrations from `current` (None: an empty database) to this code's head, oldest
    first; None when `current` is not a revision this code knows (a newer schema)."""
    scripts = _scripts()
    try:
        revisions = list(scripts.iterate_revisions(head_revision(), current))
    except RevisionError:
        return None
    return [revision.revision for revision in reversed(revisions)]


def current_revision(database_url: str) -> str | None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
