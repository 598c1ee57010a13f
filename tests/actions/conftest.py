"""Fixtures of the action tests that talk to the API: a real API server, and the action server's settings."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from api.config import Settings, get_settings
from tests.actions.helpers import ApiServer, closed_port, serve_api
from tests.api.helpers import run_sql

#: The secret the API and the action server share in these tests.
WEBHOOK_SECRET = "actions-tests-webhook-secret"


@pytest.fixture(scope="module")
def api_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The API, served by uvicorn on a free port with a fresh SQLite database; the action server points at it.

    The settings come from ``GUICHET_*`` variables (those of the environment removed, the knowledge base's
    kept), as both servers read them: the API's database and secret, and ``GUICHET_API_URL`` for the actions.
    """
    database_url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'guichet.db'}"
    with pytest.MonkeyPatch.context() as patch, closed_port() as nowhere:
        for name in list(os.environ):
            if name.upper().startswith("GUICHET_") and not name.upper().startswith("GUICHET_KB_"):
                patch.delenv(name)
        patch.setenv("GUICHET_DATABASE_URL", database_url)
        patch.setenv("GUICHET_WEBHOOK_SECRET", WEBHOOK_SECRET)
        patch.setenv("GUICHET_OFFICE_HOURS", "always")
        patch.setenv("GUICHET_RASA_PORT", str(nowhere))
        patch.setenv("GUICHET_ACTIONS_PORT", str(nowhere))
        with serve_api(Settings(_env_file=None)) as server:  # type: ignore[call-arg]
            patch.setenv("GUICHET_API_URL", server.url)
            get_settings.cache_clear()
            try:
                yield server
            finally:
                get_settings.cache_clear()


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """The action server reads its settings again in every test (each may change ``GUICHET_*``)."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@dataclass(frozen=True)
class Conversation:
    """A conversation created through the API.

    Attributes:
        id: Its id (Rasa's sender id).
        token: The bearer token authorising the citizen's calls.
    """

    id: str
    token: str


@pytest.fixture
def conversation(api_server: ApiServer) -> Iterator[Conversation]:
    """A new conversation (``POST /api/conversations``); afterwards, the agents' queue is emptied again."""
    with httpx.Client(base_url=api_server.url, trust_env=False, timeout=10) as client:
        response = client.post("/api/conversations", json={"language": "fr"})
    assert response.status_code == 201, response.text
    created = response.json()
    yield Conversation(id=created["id"], token=created["token"])
    run_sql(api_server.settings, "UPDATE handoffs SET status = 'closed' WHERE status <> 'closed'")
