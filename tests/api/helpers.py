"""Helpers shared by the API tests."""

from __future__ import annotations

import json
from typing import Any

import anyio
import httpx
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.accounts import create_user
from api.config import Settings
from api.crud import NewMessage, add_messages
from api.db import create_db_engine, create_sessionmaker, run_migrations
from api.models import Author, Role
from api.signing import DEFAULT_WEBHOOK_SECRET, SIGNATURE_HEADER, sign

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


STAFF_PASSWORD = "correct horse battery staple"
"""The password of every staff account the tests create."""


def create_staff(
    settings: Settings, username: str, role: str = "agent", display_name: str | None = None
) -> None:
    """Create a staff account (password ``STAFF_PASSWORD``) in the API's database, migrated first."""
    run_migrations(settings.database_url)
    engine = create_db_engine(settings.database_url)
    try:
        with create_sessionmaker(engine)() as session:
            create_user(session, username, STAFF_PASSWORD, role=Role(role), display_name=display_name)
    finally:
        engine.dispose()


def staff_headers(client: TestClient | httpx.Client, username: str) -> dict[str, str]:
    """Sign a staff member in; return their session's ``Authorization`` header (the cookie is dropped)."""
    response = client.post("/api/auth/login", json={"username": username, "password": STAFF_PASSWORD})
    assert response.status_code == 200, response.text
    client.cookies.clear()
    return {"Authorization": f"Bearer {response.json()['token']}"}


def hand_off(client: TestClient, conversation_id: str, **fields: Any) -> Any:
    """Call the handoff webhook, signed, as the action server does (reason ``requested`` unless given)."""
    body = {"conversation_id": conversation_id, "reason": "requested", **fields}
    return client.post("/api/webhooks/handoff", **signed(body))


async def claim_concurrently(app: FastAPI, settings: Settings, count: int) -> list[tuple[str, int]]:
    """Have ``count`` agents claim one waiting handoff at the same moment.

    Returns:
        Each agent's username and the status code of their claim.
    """
    names = [f"agent{number}" for number in range(count)]
    for name in names:
        create_staff(settings, name)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client,
    ):
        conversation_id = (await client.post("/api/conversations")).json()["id"]
        body = {"conversation_id": conversation_id, "reason": "requested"}
        handoff_id = (await client.post("/api/webhooks/handoff", **signed(body))).json()["handoff_id"]
        tokens = {}
        for name in names:
            login = {"username": name, "password": STAFF_PASSWORD}
            tokens[name] = (await client.post("/api/auth/login", json=login)).json()["token"]
        client.cookies.clear()
        results: list[tuple[str, int]] = []

        async def claim(name: str) -> None:
            headers = {"Authorization": f"Bearer {tokens[name]}"}
            response = await client.post(f"/api/handoffs/{handoff_id}/claim", headers=headers)
            results.append((name, response.status_code))

        async with anyio.create_task_group() as tasks:
            for name in names:
                tasks.start_soon(claim, name)
    return results
