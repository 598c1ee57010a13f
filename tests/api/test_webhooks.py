"""``POST /api/webhooks/handoff``: signed calls of the action server handing conversations over to the agents.

(The feedback webhook is tested with the citizens' feedback, in ``test_feedback``.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from api.routes.webhooks import BAD_SIGNATURE_DETAIL
from api.signing import DEFAULT_WEBHOOK_SECRET, SIGNATURE_HEADER, sign
from tests.api.helpers import (
    hand_off,
    request_handoffs_concurrently,
    run_sql,
    signed,
    start_conversation,
)

HANDOFF_URL = "/api/webhooks/handoff"


def handoffs_of(settings: Settings, conversation_id: str) -> list[dict[str, Any]]:
    """Read a conversation's handoffs straight from the database, oldest first."""
    return run_sql(
        settings,
        "SELECT * FROM handoffs WHERE conversation_id = :id ORDER BY created_at",
        id=conversation_id,
    )


def mode_of(settings: Settings, conversation_id: str) -> str:
    """Read a conversation's mode straight from the database."""
    [row] = run_sql(settings, "SELECT mode FROM conversations WHERE id = :id", id=conversation_id)
    return str(row["mode"])


def test_a_signed_handoff_puts_the_conversation_in_the_queue(client: TestClient, settings: Settings) -> None:
    conversation_id, headers = start_conversation(client, "en")

    response = hand_off(client, conversation_id, reason=" not_helpful ", note="Asked twice about parking.")

    assert response.status_code == 200
    answer = response.json()
    assert set(answer) == {
        "handoff_id",
        "status",
        "queue_position",
        "estimated_wait_seconds",
        "available",
        "unavailable_reason",
        "office_hours",
    }
    assert (answer["status"], answer["queue_position"]) == ("waiting", 1)
    # No agent has the desk open: the handoff is a ticket, the citizen may leave a message.
    assert (answer["available"], answer["unavailable_reason"]) == (False, "no_agent")
    assert answer["office_hours"] == "every day, at any time"
    assert answer["estimated_wait_seconds"] is None
    [handoff] = handoffs_of(settings, conversation_id)
    assert handoff["id"] == answer["handoff_id"]
    assert len(handoff["id"]) == 32
    assert (handoff["status"], handoff["language"], handoff["reason"], handoff["note"]) == (
        "waiting",
        "en",
        "not_helpful",
        "Asked twice about parking.",
    )
    assert (handoff["claimed_at"], handoff["closed_at"], handoff["assignee"]) == (None, None, None)
    assert mode_of(settings, conversation_id) == "waiting"
    # The citizen's next message goes to the agents (Rasa, absent here, is not called).
    sent = client.post(
        f"/api/conversations/{conversation_id}/messages", json={"text": "Hello?"}, headers=headers
    )
    assert sent.status_code == 200
    assert (sent.json()["mode"], sent.json()["language"]) == ("waiting", "en")
    [notice] = sent.json()["messages"]
    assert notice["author"] == "system"
    assert notice["text"].startswith("Thank you, your message has been passed on")


@pytest.mark.parametrize(("language", "expected"), [(None, "fr"), ("en", "en")])
def test_the_handoff_language_defaults_to_the_conversation_s(
    client: TestClient, settings: Settings, language: str | None, expected: str
) -> None:
    conversation_id, _ = start_conversation(client, "fr")

    assert hand_off(client, conversation_id, language=language).status_code == 200

    assert [h["language"] for h in handoffs_of(settings, conversation_id)] == [expected]


def test_the_signature_may_be_prefixed(client: TestClient) -> None:
    conversation_id, _ = start_conversation(client)
    call = signed({"conversation_id": conversation_id, "reason": "requested"})
    call["headers"][SIGNATURE_HEADER] = f"sha256={call['headers'][SIGNATURE_HEADER]}"

    assert client.post(HANDOFF_URL, **call).status_code == 200


def _unsigned(call: dict[str, Any]) -> None:
    del call["headers"][SIGNATURE_HEADER]


def _signed_with_another_secret(call: dict[str, Any]) -> None:
    call["headers"][SIGNATURE_HEADER] = sign("not the secret", call["content"])


def _signature_of_another_body(call: dict[str, Any]) -> None:
    call["content"] += b" "


def _garbage_signature(call: dict[str, Any]) -> None:
    call["headers"][SIGNATURE_HEADER] = "sha256=zz"


def _empty_signature(call: dict[str, Any]) -> None:
    call["headers"][SIGNATURE_HEADER] = ""


def _non_ascii_signature(call: dict[str, Any]) -> None:
    call["headers"][SIGNATURE_HEADER] = "é".encode("latin-1") * 64


def _unsigned_malformed_json(call: dict[str, Any]) -> None:
    call["content"] = b'{"conversation_id": '
    del call["headers"][SIGNATURE_HEADER]


@pytest.mark.parametrize(
    "spoil",
    [
        _unsigned,
        _signed_with_another_secret,
        _signature_of_another_body,
        _garbage_signature,
        _empty_signature,
        _non_ascii_signature,
        _unsigned_malformed_json,
    ],
)
def test_unsigned_or_badly_signed_calls_are_401(
    client: TestClient, settings: Settings, spoil: Callable[[dict[str, Any]], None]
) -> None:
    conversation_id, _ = start_conversation(client)
    call = signed({"conversation_id": conversation_id, "reason": "requested"})
    spoil(call)

    response = client.post(HANDOFF_URL, **call)

    assert response.status_code == 401
    assert response.json() == {"detail": BAD_SIGNATURE_DETAIL}
    assert handoffs_of(settings, conversation_id) == []
    assert mode_of(settings, conversation_id) == "bot"


def test_the_secret_comes_from_the_settings(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(GUICHET_WEBHOOK_SECRET="a-long-random-secret")
    with TestClient(create_app(settings)) as client:
        conversation_id, _ = start_conversation(client)
        body = {"conversation_id": conversation_id, "reason": "requested"}

        assert client.post(HANDOFF_URL, **signed(body)).status_code == 401
        assert client.post(HANDOFF_URL, **signed(body, "a-long-random-secret")).status_code == 200


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"reason": "requested"}, "conversation_id: field required"),
        ({"conversation_id": "ID"}, "reason: field required"),
        ({"conversation_id": "ID", "reason": "  "}, "reason: must not be empty"),
        ({"conversation_id": "ID", "reason": "x" * 65}, "reason: must be at most 64 characters (got 65)"),
        ({"conversation_id": "ID", "reason": "a\x00b"}, "reason: must not contain the NUL character"),
        ({"conversation_id": "ID", "reason": "requested", "language": "de"}, "language: input should be"),
        ({"conversation_id": "ID", "reason": "requested", "note": 3}, "note: input should be a valid string"),
        ({"conversation_id": "ID", "reason": "requested", "note": "x" * 2001}, "note: must be at most 2000"),
        ({"conversation_id": 42, "reason": "requested"}, "conversation_id: input should be a valid string"),
        (["requested"], "body: expected a JSON object"),
    ],
)
def test_invalid_bodies_are_refused_readably(
    client: TestClient, settings: Settings, body: Any, detail: str
) -> None:
    conversation_id, _ = start_conversation(client)
    body = (
        {key: conversation_id if value == "ID" else value for key, value in body.items()}
        if isinstance(body, dict)
        else body
    )

    response = client.post(HANDOFF_URL, **signed(body))

    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail)
    assert handoffs_of(settings, conversation_id) == []


def test_signed_malformed_json_is_422(client: TestClient) -> None:
    call = signed({})
    call["content"] = b'{"conversation_id": '
    call["headers"][SIGNATURE_HEADER] = sign(DEFAULT_WEBHOOK_SECRET, call["content"])

    response = client.post(HANDOFF_URL, **call)

    assert response.status_code == 422
    assert response.json()["detail"] == "body: invalid JSON"


@pytest.mark.parametrize("conversation_id", ["0" * 32, "unknown", "\x00", "x" * 500])
def test_unknown_conversation_is_404(client: TestClient, conversation_id: str) -> None:
    response = hand_off(client, conversation_id)

    assert response.status_code == 404
    assert response.json() == {"detail": "No such conversation."}


def test_a_second_request_answers_the_open_handoff(client: TestClient, settings: Settings) -> None:
    conversation_id, _ = start_conversation(client)
    first = hand_off(client, conversation_id).json()

    second = hand_off(client, conversation_id, reason="frustration", language="en", note="again")

    assert second.status_code == 200
    assert second.json() == first
    [handoff] = handoffs_of(settings, conversation_id)
    assert (handoff["reason"], handoff["language"], handoff["note"]) == ("requested", "fr", None)


def test_queue_positions_follow_the_order_of_the_requests(client: TestClient, settings: Settings) -> None:
    conversations = [start_conversation(client)[0] for _ in range(3)]
    first, second, third = (hand_off(client, c).json() for c in conversations)
    assert [a["queue_position"] for a in (first, second, third)] == [1, 2, 3]

    # An agent takes the first: it leaves the queue, the others move up.
    run_sql(settings, "UPDATE handoffs SET status = 'active' WHERE id = :id", id=first["handoff_id"])
    assert hand_off(client, conversations[0]).json() == {**first, "status": "active", "queue_position": 0}
    assert hand_off(client, conversations[2]).json()["queue_position"] == 2

    # Once the first is closed, a new request for its conversation opens a new handoff, last in the queue.
    run_sql(settings, "UPDATE handoffs SET status = 'closed' WHERE id = :id", id=first["handoff_id"])
    again = hand_off(client, conversations[0]).json()
    assert again["handoff_id"] != first["handoff_id"]
    assert (again["status"], again["queue_position"]) == ("waiting", 3)
    assert [h["status"] for h in handoffs_of(settings, conversations[0])] == ["closed", "waiting"]


@pytest.mark.anyio
async def test_concurrent_requests_open_one_handoff(app: FastAPI, settings: Settings) -> None:
    conversation_id, answers = await request_handoffs_concurrently(app, 8)

    assert len({answer["handoff_id"] for answer in answers}) == 1
    assert len(handoffs_of(settings, conversation_id)) == 1


def test_the_webhooks_are_documented_as_signed(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]

    for path in ("/api/webhooks/handoff", "/api/webhooks/feedback"):
        operation = paths[path]["post"]
        assert [p["name"] for p in operation["parameters"]] == [SIGNATURE_HEADER]
        assert {"401", "404", "422"} <= set(operation["responses"])
