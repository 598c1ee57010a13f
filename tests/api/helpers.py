"""Helpers shared by the API tests."""

from __future__ import annotations

from fastapi.testclient import TestClient


def start_conversation(client: TestClient, language: str | None = None) -> tuple[str, dict[str, str]]:
    """Create a conversation and return its id and the headers authorising it."""
    body = {"language": language} if language is not None else None
    response = client.post("/api/conversations", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    return created["id"], {"Authorization": f"Bearer {created['token']}"}
