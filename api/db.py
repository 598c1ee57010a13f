"""Database engine, sessions and migrations.

The API uses SQLAlchemy's blocking engine (``sqlite3`` or psycopg 3) from worker threads, so that database
work never blocks the event loop: plain ``def`` routes get a ``Session`` through ``SessionDep`` (FastAPI runs
them in its thread pool), and ``async`` code runs units of work with ``await Database.run(fn, ...)``.
(SQLAlchemy's asyncio extension would need the ``greenlet`` package, which the environment does not ship.)

Alembic migrates the same database, once, before the API serves anything.

On SQLite every transaction starts with ``BEGIN IMMEDIATE``: a transaction that reads then writes (numbering a
message) would otherwise fail at once with "database is locked" whenever another connection wrote in between;
taking the write lock up front makes concurrent writers wait their turn (up to the busy timeout) instead.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import anyio.to_thread
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from api.config import sqlalchemy_url, sqlite_file

logger = logging.getLogger(__name__)

API_DIR = Path(__file__).resolve().parent
ALEMBIC_INI = API_DIR / "alembic.ini"
MIGRATIONS_DIR = API_DIR / "migrations"

_MIGRATION_LOCK_ID = 0x6775696368  # serialises concurrent migrations (API replicas starting) on PostgreSQL
_SQLITE_BUSY_TIMEOUT_SECONDS = 30

P = ParamSpec("P")
T = TypeVar("T")


def ensure_database_directory(database_url: str) -> None:
    """Create the folder of a SQLite database file if it is missing (e.g. ``var/``).

    Args:
        database_url: Any supported database URL; nothing happens for PostgreSQL or in-memory SQLite.
    """
    path = sqlite_file(database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


def _on_sqlite_connect(dbapi_connection: Any, _connection_record: Any) -> None:
    """Set up each new SQLite connection: foreign keys, write-ahead log, transactions begun by SQLAlchemy."""
    dbapi_connection.isolation_level = None  # let the "begin" event below emit BEGIN
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        cursor.close()


def _on_sqlite_begin(connection: Connection) -> None:
    """Begin SQLite transactions by taking the write lock (see the module's documentation)."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_db_engine(database_url: str) -> Engine:
    """Create an engine on the database, creating the SQLite file's folder if needed.

    Args:
        database_url: The configured database URL (``sqlite:///...`` or ``postgresql://...``).

    Returns:
        A SQLAlchemy engine using the ``sqlite`` or ``postgresql+psycopg`` driver.
    """
    ensure_database_directory(database_url)
    url = sqlalchemy_url(database_url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_SECONDS})
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def create_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Create the factory of the application's database sessions.

    Objects stay loaded after a commit (``expire_on_commit=False``), so they can be read after their session
    is closed, from any thread.

    Args:
        engine: The application's engine.

    Returns:
        A session factory.
    """
    return sessionmaker(engine, expire_on_commit=False)


class Database:
    """The application's database: an engine, its sessions, and a way to use them from async code.

    Args:
        engine: The engine (see ``create_db_engine``).
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessionmaker = create_sessionmaker(engine)

    def session(self) -> Session:
        """Return a new session (use it as a context manager, in one thread at a time)."""
        return self.sessionmaker()

    def _call(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        with self.sessionmaker() as session:
            return fn(session, *args, **kwargs)

    async def run(self, fn: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(session, *args, **kwargs)`` with a new session, in a worker thread.

        The session is closed afterwards (what ``fn`` did not commit is rolled back). If the calling task is
        cancelled, it still waits for ``fn`` to finish, so a unit of work is never left half done.

        Args:
            fn: A blocking function taking a session first (typically from ``api.crud``).
            *args: Its other positional arguments.
            **kwargs: Its keyword arguments.

        Returns:
            What ``fn`` returns.
        """
        return await anyio.to_thread.run_sync(functools.partial(self._call, fn, *args, **kwargs))

    async def ping(self) -> None:
        """Run ``SELECT 1``; the calling task can give up waiting (e.g. on a timeout) at any time."""

        def select_one() -> None:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))

        await anyio.to_thread.run_sync(select_one, abandon_on_cancel=True)

    def dispose(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()


def alembic_config(connection: Connection | None = None) -> Config:
    """Return the Alembic configuration of the API, independent of the current directory.

    Args:
        connection: A connection for the migrations to run on; without it, ``env.py`` connects to
            ``GUICHET_DATABASE_URL``.

    Returns:
        The configuration read from ``api/alembic.ini``.
    """
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def run_migrations(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` with Alembic, creating the SQLite file and its folder if needed.

    Blocking: call it before serving. On PostgreSQL an advisory lock keeps replicas that start together from
    migrating at the same time.

    Args:
        database_url: The configured database URL.
        revision: The Alembic revision to upgrade to.
    """
    engine = create_db_engine(database_url)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            logger.info("Migrating the database to %s", revision)
            command.upgrade(alembic_config(connection), revision)
    finally:
        engine.dispose()
