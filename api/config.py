"""Settings of the API, read from ``GUICHET_*`` environment variables or a ``.env`` file.

Every setting has a working default for a development machine: SQLite under ``var/``, Rasa, the action
server and the API on loopback. Outside development (``GUICHET_ENVIRONMENT`` other than ``development``) the
settings refuse the default shared secrets, so a deployment cannot run with a secret that is public in this
repository.
"""

from __future__ import annotations

import functools
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from api.cors import parse_origins
from api.office_hours import DEFAULT_OFFICE_HOURS, OfficeHours
from api.ratelimit import DEFAULT_RATE_LIMITS, parse_rate_limits
from api.signing import DEFAULT_WEBHOOK_SECRET

REPO_ROOT = Path(__file__).resolve().parent.parent
"""The repository root: the folder holding the ``api`` package."""


DEFAULT_DATABASE_URL = f"sqlite:///{REPO_ROOT / 'var' / 'guichet.db'}"
"""The embedded default database: a SQLite file under ``var/`` at the repository root."""

Language = Literal["fr", "en"]
"""The languages the assistant speaks."""

Port = Annotated[int, Field(ge=1, le=65535)]

_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


def _backend_of(url: URL) -> str:
    """Return the backend (``sqlite`` or ``postgresql``) of a database URL.

    Args:
        url: A parsed SQLAlchemy URL, with or without an explicit driver.

    Returns:
        ``"sqlite"`` or ``"postgresql"``.

    Raises:
        ValueError: The URL names another database.
    """
    backend = url.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend not in _DRIVERS:
        raise ValueError(f"unsupported database {backend!r}: use a sqlite:/// or postgresql:// URL")
    return backend


def sqlalchemy_url(database_url: str) -> str:
    """Return the URL SQLAlchemy connects with: the same database through the driver the API uses.

    ``sqlite:///...`` uses the standard library's ``sqlite3``; ``postgresql://...`` (or ``postgres://``) uses
    psycopg 3. A driver given in the URL (``sqlite+aiosqlite``, ``postgresql+asyncpg``…) is replaced.

    Args:
        database_url: The configured database URL.

    Returns:
        The URL as a string, password included.
    """
    url = make_url(database_url)
    url = url.set(drivername=_DRIVERS[_backend_of(url)])
    return url.render_as_string(hide_password=False)


def sqlite_file(database_url: str) -> Path | None:
    """Return the file of a SQLite database URL.

    Args:
        database_url: Any supported database URL.

    Returns:
        The database file, or None for PostgreSQL and for in-memory SQLite.
    """
    url = make_url(database_url)
    if _backend_of(url) != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    if url.query.get("mode") == "memory" or str(url.database).startswith("file:"):
        return None
    return Path(str(url.database))


class Settings(BaseSettings):
    """Settings of the Guichet API.

    Each field reads the environment variable ``GUICHET_<FIELD NAME>`` (case-insensitive), else the same key
    in the ``.env`` file at the repository root, else its default.

    Attributes:
        environment: ``development`` (the default) or anything else, e.g. ``production``; outside development
            the default ``webhook_secret`` is refused.
        database_url: ``sqlite:///PATH`` (default ``var/guichet.db`` at the repository root) or
            ``postgresql://USER:PASSWORD@HOST:PORT/DB``; the driver is chosen automatically.
        api_host: Address the API listens on with ``python -m api``.
        api_port: Port of the API.
        rasa_port: Port of the Rasa server; used to derive ``rasa_url``.
        actions_port: Port of the action server; used to derive ``actions_url``.
        rasa_url: Base URL of the Rasa server (default ``http://127.0.0.1:{rasa_port}``).
        actions_url: Base URL of the action server (default ``http://127.0.0.1:{actions_port}``).
        api_url: Base URL at which the action server reaches this API's webhooks (default
            ``http://127.0.0.1:{api_port}``).
        webhook_secret: Shared secret signing the bot-to-API webhooks (HMAC-SHA256).
        redis_url: Redis URL turning on fan-out between API replicas; unset by default.
        default_language: Language of a conversation whose citizen did not choose one.
        rasa_timeout: Seconds to wait for Rasa's answer to one message.
        health_check_timeout: Seconds each check of ``GET /health`` may take.
        rate_limits: Limits of the citizens' endpoints: ``off``, or ``conversations=N/UNIT,messages=N/UNIT``
            (new conversations per client address, messages per conversation; see ``api.ratelimit``).
        session_hours: How long a staff member stays signed in.
        retention_days: Conversations with no activity for this many days are deleted, with their messages,
            handoffs and feedback (see ``api.retention``); the widget's privacy notice states it.
        office_hours: When agents answer, e.g. ``mon-fri 08:30-12:00 13:30-17:30; sat 09:00-12:00``, or
            ``always`` (see ``api.office_hours``); outside them a handoff becomes a ticket.
        holidays: Extra closed days, comma-separated ISO dates (``2026-12-24,2026-12-31``).
        public_holidays: ``fr`` (the French public holidays close the office) or ``none``.
        timezone: The commune's time zone, in which ``office_hours`` are read.
        widget_origins: Sites allowed to call the citizens' endpoints from their pages (the embedded widget):
            ``*`` (the default) or comma-separated origins such as ``https://www.clairval.fr``.
    """

    model_config = SettingsConfigDict(
        env_prefix="GUICHET_",
        env_file=REPO_ROOT / ".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    environment: str = "development"
    database_url: str = DEFAULT_DATABASE_URL
    api_host: str = "127.0.0.1"
    api_port: Port = 8000
    rasa_port: Port = 5005
    actions_port: Port = 5055
    rasa_url: str = ""
    actions_url: str = ""
    api_url: str = ""
    webhook_secret: SecretStr = SecretStr(DEFAULT_WEBHOOK_SECRET)
    redis_url: str | None = None
    default_language: Language = "fr"
    rasa_timeout: float = Field(default=10.0, gt=0)
    health_check_timeout: float = Field(default=2.0, gt=0)
    rate_limits: str = DEFAULT_RATE_LIMITS
    session_hours: float = Field(default=10.0, gt=0, le=24 * 30)
    retention_days: int = Field(default=90, ge=1, le=3650)
    office_hours: str = DEFAULT_OFFICE_HOURS
    holidays: str = ""
    public_holidays: str = "fr"
    timezone: str = "Europe/Paris"
    widget_origins: str = "*"

    @field_validator("environment")
    @classmethod
    def _normalise_environment(cls, value: str) -> str:
        return value.strip().lower()

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        value = value.strip()
        try:
            _backend_of(make_url(value))
        except ArgumentError as exc:
            raise ValueError(f"not a database URL: {exc}") from exc
        return value

    @field_validator("rate_limits")
    @classmethod
    def _check_rate_limits(cls, value: str) -> str:
        parse_rate_limits(value)
        return value.strip()

    @field_validator("widget_origins")
    @classmethod
    def _check_widget_origins(cls, value: str) -> str:
        parse_origins(value)
        return value.strip()

    @model_validator(mode="after")
    def _check_office_hours(self) -> Settings:
        self.office()
        return self

    def office(self) -> OfficeHours:
        """The office hours these settings describe.

        Raises:
            ValueError: ``office_hours``, ``holidays``, ``public_holidays`` or ``timezone`` is malformed.
        """
        return OfficeHours.parse(
            self.office_hours,
            holidays=self.holidays,
            public_holidays=self.public_holidays,
            timezone=self.timezone,
        )

    @field_validator("redis_url")
    @classmethod
    def _empty_is_none(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return value.strip() or None

    @model_validator(mode="after")
    def _derive_and_enforce(self) -> Settings:
        self.rasa_url = (self.rasa_url.strip() or f"http://127.0.0.1:{self.rasa_port}").rstrip("/")
        self.actions_url = (self.actions_url.strip() or f"http://127.0.0.1:{self.actions_port}").rstrip("/")
        self.api_url = (self.api_url.strip() or f"http://127.0.0.1:{self.api_port}").rstrip("/")
        for name in ("rasa_url", "actions_url", "api_url"):
            if not getattr(self, name).startswith(("http://", "https://")):
                raise ValueError(f"{name} must start with http:// or https://")
        if not self.is_development and self.webhook_secret.get_secret_value() == DEFAULT_WEBHOOK_SECRET:
            raise ValueError(
                "GUICHET_WEBHOOK_SECRET still has its default value in the "
                f"{self.environment!r} environment: set a long random secret "
                "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`)"
            )
        return self

    @property
    def session_lifetime(self) -> timedelta:
        """How long a staff session lasts."""
        return timedelta(hours=self.session_hours)

    @property
    def is_development(self) -> bool:
        """Whether this is a development machine (``environment == "development"``)."""
        return self.environment == "development"

    @property
    def sqlalchemy_url(self) -> str:
        """The database URL with the driver the API and Alembic use (``sqlite`` or ``postgresql+psycopg``)."""
        return sqlalchemy_url(self.database_url)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings, read once from the environment.

    Returns:
        The settings.
    """
    return Settings()
