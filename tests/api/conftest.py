"""Fixtures of the API tests: the application on a fresh SQLite file, Rasa and the action server absent."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app

PG_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"
"""The PostgreSQL server of the PostgreSQL tests (trust authentication); they are skipped when it is down."""


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's or CI's GUICHET_* variables out of the tests' settings."""
    for name in list(os.environ):
        if name.upper().startswith("GUICHET_"):
            monkeypatch.delenv(name)


@pytest.fixture
def anyio_backend() -> str:
    """Run async tests on asyncio, as uvicorn does."""
    return "asyncio"


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port where connections are refused: bound (so nobody else takes it) but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local port that accepts connections (kernel backlog) but never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A SQLite database in a folder that does not exist yet (the API creates it, as it creates ``var/``)."""
    return f"sqlite:///{tmp_path / 'var' / 'guichet.db'}"


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """A GUICHET_DATABASE_URL pointing at a new, empty schema of the test server (``search_path`` in the URL),
    dropped afterwards: runs never collide."""
    schema = f"guichet_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_SERVER_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL is not reachable at {PG_SERVER_URL}: {exc}")
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield f"{PG_SERVER_URL}?options=-csearch_path%3D{schema}"
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def make_settings(
    monkeypatch: pytest.MonkeyPatch, database_url: str, closed_port: int
) -> Callable[..., Settings]:
    """Build fresh settings from GUICHET_* variables: the tmp database, Rasa and actions on a closed port,
    the office always open."""

    def make(**variables: str) -> Settings:
        environment = {
            "GUICHET_DATABASE_URL": database_url,
            "GUICHET_RASA_PORT": str(closed_port),
            "GUICHET_ACTIONS_PORT": str(closed_port),
            # Agents answer at any hour unless a test says otherwise (tests/api/test_desk.py does).
            "GUICHET_OFFICE_HOURS": "always",
            **variables,
        }
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        return Settings(_env_file=None)  # type: ignore[call-arg]

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """Default test settings."""
    return make_settings()


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """The application, not started."""
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client of the started application (lifespan run: database migrated)."""
    with TestClient(app) as test_client:
        yield test_client
