"""PostgreSQL plumbing shared by create, verify and restore: connection strings for libpq
tools, scratch databases, row counts and table contents."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

# PostgreSQL truncates identifiers to 63 bytes; names we derive must stay unique after that.
MAX_IDENTIFIER = 63
# Tables of the PostgreSQL catalogues, never part of an application backup.
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


class BackupError(Exception):
    """A backup operation could not be completed; the message says what to do."""


class Database:
    """One database on a server, addressed for psycopg and for the libpq command-line tools.

    The password never goes on a command line (where `ps` shows it): tools get it through
    PGPASSWORD in their environment.
    """

    def __init__(self, url: str) -> None:
        scheme, _, rest = url.partition("://")
        if not scheme.startswith("postgres"):
            raise BackupError(
                "backups need PostgreSQL (DATABASE_URL=postgresql://...); the embedded SQLite "
                "file is backed up by copying it while the app is stopped"
            )
        self._params: dict[str, Any] = conninfo_to_dict("postgresql://" + rest)
        if not self._params.get("dbname"):
            raise BackupError("the database URL names no database")
        self.name: str = str(self._params["dbname"])

    @classmethod
    def _from_params(cls, params: dict[str, Any]) -> Database:
        database = cls.__new__(cls)
        database._params = params
        database.name = str(params["dbname"])
        return database

    def with_name(self, name: str) -> Database:
        return Database._from_params({**self._params, "dbname": name})

    @property
    def conninfo(self) -> str:
        """For psycopg (password included)."""
        return make_conninfo(**self._params)

    @property
    def tool_url(self) -> str:
        """For pg_dump/pg_restore/psql (no password: see tool_env)."""
        return make_conninfo(**{k: v for k, v in self._params.items() if k != "password"})

    @property
    def sqlalchemy_url(self) -> str:
        from sqlalchemy.engine import URL

        params = dict(self._params)
        return URL.create(
            "postgresql+psycopg",
            username=params.pop("user", None),
            password=params.pop("password", None),
            host=params.pop("host", None),
            port=int(params.pop("port")) if params.get("port") else None,
            database=params.pop("dbname"),
            query={key: str(value) for key, value in params.items()},
        ).render_as_string(hide_password=False)

    def tool_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self._params.get("password"):
            env["PGPASSWORD"] = str(self._params["password"])
        return env

    @property
    def maintenance(self) -> Database:
        """The server's `postgres` database, for CREATE/DROP/ALTER DATABASE."""
        return self.with_name("postgres")

    def connect(self, autocommit: bool = False) -> psycopg.Connection:
        return psycopg.connect(self.conninfo, autocommit=autocommit)

    def exists(self) -> bool:
        with self.maintenance.connect(autocommit=True) as connection:
            row = connection.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.name,)
            ).fetchone()
        return row is not None

    def create_sibling(self, name: str) -> Database:
        """Create an empty database `name` on the same server, owned like this one."""
        with self.maintenance.connect(autocommit=True) as connection:
            owner = connection.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                (self.name,),
            ).fetchone()
            statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
            if owner is not None:
                statement += sql.SQL(" OWNER {}").format(sql.Identifier(owner[0]))
            connection.execute(statement)
        return self.with_name(name)

    def drop(self) -> None:
        with self.maintenance.connect(autocommit=True) as connection:
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name))
            )


def derived_name(base: str, suffix: str) -> str:
    """`<base><suffix>`, shortening the base so the result fits an identifier."""
    return base[: MAX_IDENTIFIER - len(suffix)] + suffix


def list_tables(connection: psycopg.Connection) -> list[str]:
    """Every ordinary table outside the system schemas, as `schema.table`."""
    rows = connection.execute(
        "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relkind IN ('r', 'p') AND n.nspname <> ALL(%s)"
        " AND n.nspname NOT LIKE 'pg_temp%%' AND n.nspname NOT LIKE 'pg_toast%%'"
        " ORDER BY 1, 2",
        (list(SYSTEM_SCHEMAS),),
    ).fetchall()
    return [f"{schema}.{table}" for schema, table in rows]


def _table_identifier(qualified: str) -> sql.Composable:
    schema, table = qualified.split(".", 1)
    return sql.Identifier(schema, table)


def count_rows(connection: psycopg.Connection) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in list_tables(connection):
        row = connection.execute(
            sql.SQL("SELECT count(*) FROM {}").format(_table_identifier(table))
        ).fetchone()
        assert row is not None
        counts[table] = int(row[0])
    return counts


def table_rows(connection: psycopg.Connection, table: str) -> list[tuple[str, ...]]:
    """A table's content as sorted text tuples: equal content compares equal, whatever the
    physical row order."""
    rows = connection.execute(
        sql.SQL("SELECT t::text FROM {} AS t").format(_table_identifier(table))
    ).fetchall()
    return sorted(tuple(row) for row in rows)


def server_version(connection: psycopg.Connection) -> str:
    row = connection.execute("SHOW server_version").fetchone()
    assert row is not None
    return str(row[0])


def alembic_revision(connection: psycopg.Connection) -> str | None:
    exists = connection.execute("SELECT to_regclass('public.alembic_version')").fetchone()
    if exists is None or exists[0] is None:
        return None
    row = connection.execute("SELECT version_num FROM public.alembic_version").fetchone()
    return None if row is None else str(row[0])


def has_application_rows(database: Database) -> bool:
    """True when any table other than Alembic's bookkeeping holds a row: restoring over such a
    database replaces data someone may want."""
    if not database.exists():
        return False
    with database.connect() as connection:
        for table in list_tables(connection):
            if table == "public.alembic_version":
                continue
            row = connection.execute(
                sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(_table_identifier(table))
            ).fetchone()
            if row is not None and row[0]:
                return True
    return False


@contextmanager
def scratch_database(server: Database, label: str, stamp: str) -> Iterator[Database]:
    """A fresh empty database beside `server`'s, dropped on the way out whatever happens."""
    scratch = server.create_sibling(derived_name(server.name, f"_{label}_{stamp}"))
    try:
        yield scratch
    finally:
        scratch.drop()


_SAFE_STAMP = re.compile(r"[^a-z0-9_]")


def identifier_stamp(text: str) -> str:
    """A backup id or timestamp reduced to characters that need no quoting in a db name."""
    return _SAFE_STAMP.sub("_", text.lower())


def pg_restore(archive: str, database: Database, jobs: int) -> None:
    """Load a custom-format archive into an empty database with stock pg_restore. Ownership
    and grants are left out, so the archive loads on a server with other role names; the
    objects belong to whoever runs the restore (the application's role)."""
    import subprocess

    command = [
        "pg_restore",
        "--no-owner",
        "--no-acl",
        "--exit-on-error",
        "--no-password",
        f"--jobs={jobs}",
        f"--dbname={database.tool_url}",
        archive,
    ]
    completed = subprocess.run(  # noqa: S603 - fixed argument list
        command, env=database.tool_env(), capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise BackupError(
            f"pg_restore failed (exit {completed.returncode}): {completed.stderr.strip()}"
        )
