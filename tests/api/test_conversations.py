"""Creating conversations, and the bearer token that guards them."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from api.config import Settings, sqlalchemy_url
from api.main import create_app
from tests.api.helpers import start_conversation


def stored_conversation(settings: Settings, conversation_id: str) -> dict[str, object]:
    """Read a conversation's row straight from the database."""
    engine = create_engine(sqlalchemy_url(settings.database_url))
    try:
        with engine.connect() as connection:
            row = connection.execute(
                text("SELECT * FROM conversations WHERE id = :id"), {"id": conversation_id}
            ).one()
            return dict(row._mapping)
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("body", "language", "known"),
    [
        (None, "fr", False),
        ({}, "fr", False),
        ({"language": None}, "fr", False),
        ({"language": "en"}, "en", True),
        ({"language": "fr"}, "fr", True),
    ],
)
def test_create_conversation(
    client: TestClient, settings: Settings, body: dict[str, object] | None, language: str, known: bool
) -> None:
    response = client.post("/api/conversations", json=body)

    assert response.status_code == 201
    created = response.json()
    assert set(created) == {"id", "token"}
    assert len(created["id"]) == 32
    int(created["id"], 16)
    assert len(created["token"]) >= 43
    row = stored_conversation(settings, created["id"])
    assert row["language"] == language
    assert bool(row["language_known"]) is known
    assert row["mode"] == "bot"
    assert row["token_hash"] == hashlib.sha256(created["token"].encode()).hexdigest()
    assert created["token"] not in str(row)


def test_default_language_comes_from_settings(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(GUICHET_DEFAULT_LANGUAGE="en")

    with TestClient(create_app(settings)) as client:
        conversation_id, _ = start_conversation(client)
    assert stored_conversation(settings, conversation_id)["language"] == "en"


def test_each_conversation_gets_its_own_id_and_token(client: TestClient) -> None:
    first = client.post("/api/conversations").json()
    second = client.post("/api/conversations").json()
    assert first["id"] != second["id"]
    assert first["token"] != second["token"]


@pytest.mark.parametrize("language", ["de", "FR", "", 1])
def test_invalid_language_is_refused_readably(client: TestClient, language: object) -> None:
    response = client.post("/api/conversations", json={"language": language})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert detail.startswith("language: ")
    assert "'fr' or 'en'" in detail


def test_a_body_that_is_not_an_object_is_refused_readably(client: TestClient) -> None:
    response = client.post("/api/conversations", json=["fr"])
    assert response.status_code == 422
    assert response.json()["detail"].startswith("body: expected a JSON object")


def test_reading_messages_needs_the_token(client: TestClient) -> None:
    conversation_id, _ = start_conversation(client)

    response = client.get(f"/api/conversations/{conversation_id}/messages")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "bearer token" in response.json()["detail"].lower()


@pytest.mark.parametrize("authorization", ["Bearer wrong-token", "Bearer ", "Basic dXNlcjpwYXNz", "token"])
def test_a_wrong_token_is_refused(client: TestClient, authorization: str) -> None:
    conversation_id, _ = start_conversation(client)
    url = f"/api/conversations/{conversation_id}/messages"

    for response in (
        client.get(url, headers={"Authorization": authorization}),
        client.post(url, json={"text": "Bonjour"}, headers={"Authorization": authorization}),
    ):
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_token_opens_only_its_own_conversation(client: TestClient) -> None:
    first_id, _ = start_conversation(client)
    _, second_headers = start_conversation(client)

    response = client.get(f"/api/conversations/{first_id}/messages", headers=second_headers)

    assert response.status_code == 401


@pytest.mark.parametrize("conversation_id", ["0" * 32, "unknown", "x" * 500])
def test_unknown_conversation_is_404(client: TestClient, conversation_id: str) -> None:
    _, headers = start_conversation(client)
    url = f"/api/conversations/{conversation_id}/messages"

    assert client.get(url, headers=headers).status_code == 404
    response = client.post(url, json={"text": "Bonjour"}, headers=headers)
    assert response.status_code == 404
    assert response.json() == {"detail": "No such conversation."}
