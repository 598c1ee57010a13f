"""The same schema and conversation round trip on PostgreSQL (the database for deployments at scale).

Each test works in a schema of its own (the ``pg_database_url`` fixture of ``conftest.py``), dropped
afterwards: runs never collide.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, inspect

from api.config import Settings, sqlalchemy_url
from api.crud import NewMessage
from api.db import run_migrations
from api.main import create_app
from api.models import Author
from tests.api.helpers import (
    MIGRATED_TABLES,
    claim_concurrently,
    request_handoffs_concurrently,
    run_sql,
    send_concurrently,
    signed,
    start_conversation,
    store_turn,
)


def test_migration_creates_the_schema(pg_database_url: str) -> None:
    run_migrations(pg_database_url)
    run_migrations(pg_database_url)  # idempotent

    engine = create_engine(sqlalchemy_url(pg_database_url))
    try:
        inspector = inspect(engine)
        assert set(inspector.get_table_names()) == MIGRATED_TABLES
        unique = inspector.get_unique_constraints("messages")
        assert [c["column_names"] for c in unique] == [["conversation_id", "seq"]]
        assert ["conversation_id"] in [i["column_names"] for i in inspector.get_indexes("messages")]
    finally:
        engine.dispose()


def test_conversation_round_trip(pg_database_url: str, make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(GUICHET_DATABASE_URL=pg_database_url)

    with TestClient(create_app(settings)) as client:
        conversation_id, headers = start_conversation(client, "en")
        url = f"/api/conversations/{conversation_id}/messages"
        first = client.post(url, json={"text": "How do I renew my passport?"}, headers=headers)
        second = client.post(url, json={"text": "Hello?"}, headers=headers)
        listed = client.get(url, params={"after": 1}, headers=headers)
        health = client.get("/health").json()
        assert client.get(url, headers={"Authorization": "Bearer nope"}).status_code == 401

    assert (first.status_code, second.status_code) == (503, 503)
    assert [(m["seq"], m["author"], m["text"]) for m in listed.json()] == [(2, "citizen", "Hello?")]
    assert listed.json()[0]["created_at"].endswith("Z")
    assert health["checks"]["database"] == "ok"


def test_bad_input_is_refused_not_an_error(
    pg_database_url: str, make_settings: Callable[..., Settings]
) -> None:
    with TestClient(create_app(make_settings(GUICHET_DATABASE_URL=pg_database_url))) as client:
        conversation_id, headers = start_conversation(client)
        url = f"/api/conversations/{conversation_id}/messages"

        assert client.post(url, json={"text": "nul \x00 byte"}, headers=headers).status_code == 422
        assert client.get(url, params={"after": 2**40}, headers=headers).status_code == 422
        assert client.get("/api/conversations/%00/messages", headers=headers).status_code == 404
        assert client.get(url, headers={"Authorization": "Bearer \x7f\x00"}).status_code == 401


@pytest.mark.anyio
async def test_concurrent_messages_keep_distinct_seqs(
    pg_database_url: str, make_settings: Callable[..., Settings]
) -> None:
    app = create_app(make_settings(GUICHET_DATABASE_URL=pg_database_url))
    statuses, listed = await send_concurrently(app, 12)

    assert statuses == [503] * 12
    assert [m["seq"] for m in listed] == list(range(1, 13))


def test_handoff_and_feedback_round_trip(
    pg_database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(GUICHET_DATABASE_URL=pg_database_url)
    app = create_app(settings)
    source = {"slug": "passport", "title": "Passeport", "url": None}
    with TestClient(app) as client:
        conversation_id, headers = start_conversation(client, "fr")
        seqs = store_turn(
            settings,
            conversation_id,
            "Mon passeport ?",
            NewMessage(author=Author.BOT, text="Prenez rendez-vous.", source=source, language="fr"),
            NewMessage(author=Author.BOT, text="Autre chose ?", language="fr"),
        )
        widget = client.post(
            f"/api/conversations/{conversation_id}/feedback",
            json={"seq": 3, "helpful": True, "comment": "ok"},
            headers=headers,
        )
        nul = client.post(
            f"/api/conversations/{conversation_id}/feedback",
            json={"seq": 2, "helpful": True, "comment": "\x00"},
            headers=headers,
        )
        from_bot = client.post(
            "/api/webhooks/feedback", **signed({"conversation_id": conversation_id, "helpful": False})
        )
        handoff = client.post(
            "/api/webhooks/handoff", **signed({"conversation_id": conversation_id, "reason": "unsure"})
        )

    assert seqs == [1, 2, 3]
    assert (widget.status_code, nul.status_code, from_bot.status_code) == (204, 422, 204)
    stored = run_sql(settings, "SELECT message_seq, slug, question, source FROM feedback ORDER BY id")
    assert stored == [
        {"message_seq": 3, "slug": None, "question": "Mon passeport ?", "source": "widget"},
        {"message_seq": 2, "slug": "passport", "question": "Mon passeport ?", "source": "bot"},
    ]
    assert handoff.status_code == 200
    assert (handoff.json()["status"], handoff.json()["queue_position"]) == ("waiting", 1)


@pytest.mark.anyio
async def test_concurrent_handoff_requests_open_one_handoff(
    pg_database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(GUICHET_DATABASE_URL=pg_database_url)
    conversation_id, answers = await request_handoffs_concurrently(create_app(settings), 8)

    assert len({answer["handoff_id"] for answer in answers}) == 1
    assert run_sql(
        settings, "SELECT count(*) AS n FROM handoffs WHERE conversation_id = :id", id=conversation_id
    ) == [{"n": 1}]


@pytest.mark.anyio
async def test_exactly_one_of_several_agents_claiming_at_once_wins(
    pg_database_url: str, make_settings: Callable[..., Settings]
) -> None:
    settings = make_settings(GUICHET_DATABASE_URL=pg_database_url)
    results = await claim_concurrently(create_app(settings), settings, 8)
    assert sorted(status for _, status in results) == [200] + [409] * 7
    [winner] = [name for name, status in results if status == 200]
    assert run_sql(settings, "SELECT assignee, status FROM handoffs") == [
        {"assignee": winner, "status": "active"}
    ]
