"""Alembic environment of the Guichet API.

The API calls the migrations itself at startup (``api.db.run_migrations``), handing over an open connection
in ``config.attributes["connection"]``. Run from the ``alembic`` command line, the migrations connect to the
database of ``GUICHET_DATABASE_URL`` (or the ``.env`` file), through the blocking driver.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from api.config import Settings
from api.db import create_db_engine
from api.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(**options: object) -> None:
    """Configure the migration context with the options shared by both modes."""
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        **options,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    """Write the migrations' SQL to standard output (``alembic upgrade head --sql``)."""
    _configure(url=Settings().sqlalchemy_url, literal_binds=True, dialect_opts={"paramstyle": "named"})
    with context.begin_transaction():
        context.run_migrations()


def _run_on(connection: Connection) -> None:
    """Run the migrations on an open connection."""
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the connection given by the API, else on ``GUICHET_DATABASE_URL``."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    engine = create_db_engine(Settings().database_url)
    try:
        with engine.connect() as new_connection:
            _run_on(new_connection)
            new_connection.commit()
    finally:
        engine.dispose()


if config.attributes.get("connection") is None and config.config_file_name is not None:
    # Only from the command line: inside the API, leave the application's logging alone.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
