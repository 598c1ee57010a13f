"""Helpers shared by the API tests."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient


def start_conversation(client: TestClient, language: str | None = None) -> tuple[str, dict[str, str]]:
    """Create a conversation and return its id and the headers authorising it."""
    body = {"language": language} if language is not None else None
    response = client.post("/api/conversations", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    return created["id"], {"Authorization": f"Bearer {created['token']}"}


async def send_concurrently(app: FastAPI, count: int) -> tuple[list[int], list[dict[str, Any]]]:
    """Send ``count`` messages to one new conversation at once.

    Returns:
        The status code of each send, and the conversation's messages as listed afterwards.
    """
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client,
    ):
        created = (await client.post("/api/conversations")).json()
        headers = {"Authorization": f"Bearer {created['token']}"}
        url = f"/api/conversations/{created['id']}/messages"
        statuses: list[int] = []

        async def send(number: int) -> None:
            response = await client.post(url, json={"text": f"message {number}"}, headers=headers)
            statuses.append(response.status_code)

        async with anyio.create_task_group() as tasks:
            for number in range(count):
                tasks.start_soon(send, number)
        listed: list[dict[str, Any]] = (await client.get(url, headers=headers)).json()
    return statuses, listed
