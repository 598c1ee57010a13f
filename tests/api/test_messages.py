"""Citizens' messages: validation, storage before anything else, reading them back page by page.

Rasa is absent here (its port refuses connections): the path where it answers is covered by the end-to-end
tests with the real processes.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.config import Settings
from api.routes.conversations import RASA_UNAVAILABLE_DETAIL
from api.schemas import MAX_MESSAGE_LENGTH
from tests.api.helpers import run_sql, send_concurrently, start_conversation


def messages_url(conversation_id: str) -> str:
    return f"/api/conversations/{conversation_id}/messages"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"text": ""}, "text: must not be empty"),
        ({"text": " \n\t "}, "text: must not be empty"),
        ({"text": "x" * (MAX_MESSAGE_LENGTH + 1)}, "text: must be at most 2000 characters (got 2001)"),
        ({}, "text: field required"),
        ({"text": None}, "text: input should be a valid string"),
        ({"text": 42}, "text: input should be a valid string"),
        ({"text": "a\x00b"}, "text: must not contain the NUL character"),
        (None, "body: field required"),
    ],
)
def test_invalid_messages_are_refused_readably(
    client: TestClient, body: dict[str, object] | None, detail: str
) -> None:
    conversation_id, headers = start_conversation(client)

    response = client.post(messages_url(conversation_id), json=body, headers=headers)

    assert response.status_code == 422
    assert response.json()["detail"] == detail
    assert client.get(messages_url(conversation_id), headers=headers).json() == []


def test_malformed_json_is_refused_readably(client: TestClient) -> None:
    conversation_id, headers = start_conversation(client)

    response = client.post(
        messages_url(conversation_id),
        content=b'{"text": "Bonjour"',
        headers={**headers, "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.json()["detail"] == "body: invalid JSON"


def test_message_is_stored_when_rasa_is_unreachable(client: TestClient) -> None:
    conversation_id, headers = start_conversation(client)
    before = datetime.now(timezone.utc)

    response = client.post(
        messages_url(conversation_id), json={"text": "  Comment refaire mon passeport ?  "}, headers=headers
    )

    assert response.status_code == 503
    assert response.json() == {"detail": RASA_UNAVAILABLE_DETAIL}
    listed = client.get(messages_url(conversation_id), headers=headers)
    assert listed.status_code == 200
    [message] = listed.json()
    assert message["seq"] == 1
    assert message["author"] == "citizen"
    assert message["text"] == "Comment refaire mon passeport ?"
    assert message["buttons"] == []
    assert message["source"] is None
    created_at = datetime.fromisoformat(message["created_at"].replace("Z", "+00:00"))
    assert created_at.utcoffset() == timedelta(0)
    assert before - timedelta(seconds=1) <= created_at <= datetime.now(timezone.utc) + timedelta(seconds=1)


def test_longest_message_is_accepted(client: TestClient) -> None:
    conversation_id, headers = start_conversation(client)
    text = "é" * MAX_MESSAGE_LENGTH

    response = client.post(messages_url(conversation_id), json={"text": f" {text} "}, headers=headers)

    assert response.status_code == 503
    assert [m["text"] for m in client.get(messages_url(conversation_id), headers=headers).json()] == [text]


def test_messages_are_paged_with_after(client: TestClient) -> None:
    conversation_id, headers = start_conversation(client)
    for text in ("un", "deux", "trois", "quatre"):
        assert (
            client.post(messages_url(conversation_id), json={"text": text}, headers=headers).status_code
            == 503
        )
    url = messages_url(conversation_id)

    def listed(**params: int) -> list[tuple[int, str]]:
        response = client.get(url, params=params, headers=headers)
        assert response.status_code == 200
        return [(m["seq"], m["text"]) for m in response.json()]

    assert listed() == [(1, "un"), (2, "deux"), (3, "trois"), (4, "quatre")]
    assert listed(after=0) == listed()
    assert listed(after=2) == [(3, "trois"), (4, "quatre")]
    assert listed(after=4) == []
    assert listed(after=99) == []
    assert listed(after=1, limit=2) == [(2, "deux"), (3, "trois")]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("after=-1", "after: input should be greater than or equal to 0"),
        ("after=abc", "after: input should be a valid integer"),
        ("after=99999999999999999999", "after: input should be less than or equal to 2147483647"),
        ("limit=0", "limit: input should be greater than or equal to 1"),
        ("limit=1001", "limit: input should be less than or equal to 1000"),
    ],
)
def test_invalid_paging_is_refused_readably(client: TestClient, query: str, detail: str) -> None:
    conversation_id, headers = start_conversation(client)

    response = client.get(f"{messages_url(conversation_id)}?{query}", headers=headers)

    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)


def test_conversations_do_not_share_messages(client: TestClient) -> None:
    first_id, first_headers = start_conversation(client)
    second_id, second_headers = start_conversation(client)
    client.post(messages_url(first_id), json={"text": "premier"}, headers=first_headers)
    client.post(messages_url(second_id), json={"text": "second"}, headers=second_headers)

    first = client.get(messages_url(first_id), headers=first_headers).json()
    second = client.get(messages_url(second_id), headers=second_headers).json()

    assert [(m["seq"], m["text"]) for m in first] == [(1, "premier")]
    assert [(m["seq"], m["text"]) for m in second] == [(1, "second")]


@pytest.mark.anyio
async def test_concurrent_messages_of_one_conversation_keep_distinct_seqs(app: FastAPI) -> None:
    statuses, listed = await send_concurrently(app, 12)

    assert statuses == [503] * 12
    assert [m["seq"] for m in listed] == list(range(1, 13))
    assert sorted(m["text"] for m in listed) == sorted(f"message {n}" for n in range(12))


@pytest.mark.parametrize("mode", ["waiting", "agent"])
def test_messages_go_to_the_agents_once_handed_off(client: TestClient, settings: Settings, mode: str) -> None:
    conversation_id, headers = start_conversation(client, "en")
    run_sql(settings, "UPDATE conversations SET mode = :mode WHERE id = :id", mode=mode, id=conversation_id)

    response = client.post(messages_url(conversation_id), json={"text": "Are you there?"}, headers=headers)

    assert response.status_code == 200  # Rasa, unreachable, was not called
    assert response.json() == {"mode": mode, "language": "en", "messages": []}
    listed = client.get(messages_url(conversation_id), headers=headers).json()
    assert [(m["seq"], m["author"], m["text"]) for m in listed] == [(1, "citizen", "Are you there?")]
