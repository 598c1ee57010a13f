"""Helpers shared by the API tests."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.config import DEFAULT_WEBHOOK_SECRET, Settings
from api.crud import NewMessage, add_messages
from api.db import create_db_engine, create_sessionmaker
from api.models import Author
from api.signing import SIGNATURE_HEADER, sign

#: The tables the Alembic migrations create.
MIGRATED_TABLES = {
    "alembic_version",
    "conversations",
    "messages",
    "handoffs",
    "feedback",
    "users",
    "staff_sessions",
}


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


def signed(body: object, secret: str = DEFAULT_WEBHOOK_SECRET) -> dict[str, Any]:
    """Return the ``content`` and ``headers`` of a webhook call: ``body`` as JSON, signed with ``secret``.

    Use as ``client.post(url, **signed(body))``.
    """
    content = json.dumps(body).encode()
    return {
        "content": content,
        "headers": {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, content)},
    }


def run_sql(settings: Settings, sql: str, **params: object) -> list[dict[str, Any]]:
    """Run one statement straight on the application's database, committed; return its rows, if any."""
    engine = sa.create_engine(settings.sqlalchemy_url)
    try:
        with engine.begin() as connection:
            result = connection.execute(sa.text(sql), params)
            return [dict(row._mapping) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def store_turn(settings: Settings, conversation_id: str, question: str, *replies: NewMessage) -> list[int]:
    """Store a citizen's question and the bot's replies, as a turn stores them; return their ``seq``.

    For tests of what the API does with stored messages (feedback, handoffs): the turn through the real Rasa
    server is tested end to end (``tests/e2e``).
    """
    engine = create_db_engine(settings.database_url)
    try:
        with create_sessionmaker(engine)() as session:
            _, stored = add_messages(
                session, conversation_id, [NewMessage(author=Author.CITIZEN, text=question), *replies]
            )
            return [message.seq for message in stored]
    finally:
        engine.dispose()


async def request_handoffs_concurrently(app: FastAPI, count: int) -> tuple[str, list[dict[str, Any]]]:
    """Ask ``count`` times at once for one new conversation to be handed off.

    Returns:
        The conversation's id and the answers (JSON), in the order they came.
    """
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client,
    ):
        conversation_id = (await client.post("/api/conversations")).json()["id"]
        answers: list[dict[str, Any]] = []

        async def request(number: int) -> None:
            body = {"conversation_id": conversation_id, "reason": f"reason {number}"}
            response = await client.post("/api/webhooks/handoff", **signed(body))
            assert response.status_code == 200, response.text
            answers.append(response.json())

        async with anyio.create_task_group() as tasks:
            for number in range(count):
                tasks.start_soon(request, number)
    return conversation_id, answers
