"""SQL storage: one ``Database`` per process, sessions as transactions, Alembic migrations.

SQLite (a file under ``DATA_DIR``) by default; PostgreSQL with
``DATABASE_URL=postgresql+psycopg://user:password@host:5432/docstune`` (``postgresql://`` and
``postgres://`` mean the same: psycopg 3 is the driver DocsTune installs). Both run the same
Alembic migrations and the same queries.
"""
from __future__ import annotations

import functools
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from application.db.base import Base
from application.errors import DatabaseUnavailable, DocsTuneError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
_migrate_lock = threading.Lock()

# PostgreSQL: connections per process (gunicorn threads + the job worker share one pool)
PG_POOL_SIZE = 10
PG_MAX_OVERFLOW = 20
PG_CONNECT_TIMEOUT_S = 10
# any constant: processes migrating one PostgreSQL database at once take turns on this advisory lock
_PG_MIGRATE_LOCK_ID = 7_091_001


def normalize_url(url: str) -> str:
    """``postgres://`` and ``postgresql://`` (which SQLAlchemy would give to psycopg2) use psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def describe_url(url: str | URL) -> str:
    """The URL for messages: no driver, no password (``postgresql://user@host:5432/db``)."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<an unreadable DATABASE_URL>"
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return f"sqlite:///{parsed.database or ':memory:'}"
    where = parsed.host or "localhost"
    if parsed.port:
        where += f":{parsed.port}"
    user = f"{parsed.username}@" if parsed.username else ""
    return f"{backend}://{user}{where}/{parsed.database or ''}"


def _create_private_file(path: Path) -> None:
    """An SQLite database file and its folder, for their owner only (0600, 0700): SQLite gives its -wal and
    -shm files the database's mode. An existing file keeps its mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _one_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc)
    return " ".join(message.split()) or type(exc).__name__


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers go on while one writer commits; foreign keys make deletes cascade
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


@functools.cache
def _nul_free_str_dumpers() -> tuple[type, type]:
    from psycopg.types.string import StrBinaryDumper, StrDumperUnknown

    class NulFreeStrDumper(StrDumperUnknown):
        def dump(self, obj: str):
            return super().dump(obj.replace("\x00", "") if "\x00" in obj else obj)

    class NulFreeStrBinaryDumper(StrBinaryDumper):
        def dump(self, obj: str):
            return super().dump(obj.replace("\x00", "") if "\x00" in obj else obj)

    return NulFreeStrBinaryDumper, NulFreeStrDumper


def _postgres_connection(dbapi_connection, _record) -> None:
    """PostgreSQL cannot store NUL characters in text (SQLite can): a document, question or comment that
    holds one is stored without them, instead of failing on PostgreSQL only."""
    for dumper in _nul_free_str_dumpers():  # the last one registered is the default for its format
        dbapi_connection.adapters.register_dumper(str, dumper)


class Database:
    def __init__(self, url: str):
        self.url = normalize_url(url)
        try:
            parsed = make_url(self.url)
        except ArgumentError as exc:
            raise DocsTuneError(f"DATABASE_URL is not a database URL ({exc}); "
                                "e.g. postgresql+psycopg://user:password@host:5432/docstune") from exc
        self.dialect = parsed.get_backend_name()
        self.description = describe_url(parsed) + (" (password hidden)" if parsed.password else "")
        kwargs: dict = {}
        if self.dialect == "sqlite":
            path = parsed.database
            if path and path != ":memory:":
                _create_private_file(Path(path))
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        elif self.dialect == "postgresql":
            kwargs.update(
                pool_pre_ping=True,  # a connection the server (or a proxy) dropped is replaced, not handed out
                pool_size=PG_POOL_SIZE,
                max_overflow=PG_MAX_OVERFLOW,
                pool_recycle=1800,
                pool_timeout=30,
                connect_args={
                    "connect_timeout": PG_CONNECT_TIMEOUT_S,
                    "application_name": "docstune",
                    # timestamps come back in UTC whatever the server's TimeZone (as SQLite stores them)
                    "options": "-c timezone=UTC",
                },
            )
        else:
            kwargs["pool_pre_ping"] = True
        try:
            self.engine: Engine = create_engine(self.url, **kwargs)
        except (NoSuchModuleError, ImportError) as exc:
            raise DocsTuneError(
                f"DATABASE_URL {self.description} needs a database driver that is not installed ({_one_line(exc)}); "
                "for PostgreSQL use postgresql+psycopg://user:password@host:5432/docstune"
            ) from exc
        if self.dialect == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        elif self.engine.dialect.driver == "psycopg":
            event.listen(self.engine, "connect", _postgres_connection)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: commits when the block ends, rolls back if it raises."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _connect(self):
        """A connection; a database server that cannot be reached (down, wrong host, port, name, user or
        password) is ``DatabaseUnavailable`` with one readable line. (SQLite's errors stay as they are.)"""
        try:
            return self.engine.connect()
        except OperationalError as exc:
            if self.dialect == "sqlite":
                raise
            raise DatabaseUnavailable(
                f"Cannot reach the database at {self.description}: {_one_line(exc)} "
                "— check DATABASE_URL and that the server is running."
            ) from exc

    def check(self) -> None:
        """Connect once; raises ``DatabaseUnavailable`` with one readable line if that fails."""
        with self._connect() as connection:
            connection.execute(text("SELECT 1"))

    def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        with _migrate_lock, self._sqlite_file_lock():
            with self._connect() as connection, connection.begin():
                if self.dialect == "postgresql":
                    # several processes (server, workers) may start on a fresh database at once: one
                    # migrates, the others wait here and then find the schema at head (DDL is transactional)
                    connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_MIGRATE_LOCK_ID})
                config.attributes["connection"] = connection
                command.upgrade(config, "head")

    @contextmanager
    def _sqlite_file_lock(self) -> Iterator[None]:
        """SQLite runs DDL outside the transaction, so two processes migrating one new file at once
        would both create the tables: they take turns on an advisory lock of the file instead."""
        path = make_url(self.url).database if self.dialect == "sqlite" else None
        try:
            import fcntl
        except ImportError:  # Windows has no fcntl
            fcntl = None
        if not path or path == ":memory:" or path.startswith("file:") or fcntl is None:
            yield
            return
        # the lock is taken on a file beside the database, never on the database itself: closing any
        # descriptor of a file drops every POSIX lock this process holds on it, SQLite's own included,
        # and then another process's connection would take itself for the last one and delete the WAL
        # that this process still writes into
        try:
            fd = os.open(f"{path}.migrate-lock", os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError:  # a read-only folder: SQLite will say what is wrong
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # releases the lock

    def dispose(self) -> None:
        self.engine.dispose()


def check_database(url: str) -> None:
    """Raises ``DatabaseUnavailable`` (one readable line) unless the database answers."""
    database = Database(url)
    try:
        database.check()
    finally:
        database.dispose()


__all__ = ["Base", "Database", "DatabaseUnavailable", "check_database", "describe_url", "normalize_url"]
