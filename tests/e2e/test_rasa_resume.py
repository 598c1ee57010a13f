"""Rasa's side of the handoff, with the real stack: ``action_handoff`` pauses the tracker, and the signed
``POST /webhooks/guichet/resume`` of ``bot/channels.py`` gives the conversation back to the bot.

What Rasa recorded is read back from its SQLite tracker store (``rasa-tracker.db``, table ``events``).
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import httpx
import pytest

from api.signing import SIGNATURE_HEADER, sign
from tests.e2e.test_conversation import ENTRIES, open_conversation, say
from tests.stack import RunningStack

pytestmark = pytest.mark.e2e

RESUME_PATH = "/webhooks/guichet/resume"
ASK_FOR_A_PERSON = "je veux parler à un agent"


def shared_secret(stack: RunningStack) -> str:
    """The secret the API, the action server and Rasa's channel share (``GUICHET_WEBHOOK_SECRET``)."""
    return stack.settings.webhook_secret.get_secret_value()


def rasa_events(stack: RunningStack, conversation: str) -> list[tuple[str, str | None]]:
    """The conversation's events in Rasa's tracker store, oldest first: ``(type_name, action_name)``."""
    with sqlite3.connect(stack.var_dir / "rasa-tracker.db") as db:
        rows = db.execute(
            "SELECT type_name, action_name FROM events WHERE sender_id = ? ORDER BY id", (conversation,)
        ).fetchall()
    return [(type_name, action_name) for type_name, action_name in rows]


def resume(
    stack: RunningStack, body: bytes, *, secret: str | None = None, signature: str | None = None
) -> httpx.Response:
    """Calls Rasa's resume route, signed with the stack's secret unless told otherwise."""
    signed = signature if signature is not None else sign(secret or shared_secret(stack), body)
    with httpx.Client(base_url=stack.settings.rasa_url, trust_env=False, timeout=30) as rasa:
        return rasa.post(
            RESUME_PATH, content=body, headers={"Content-Type": "application/json", SIGNATURE_HEADER: signed}
        )


def resume_body(conversation: str) -> bytes:
    return json.dumps({"conversation_id": conversation}).encode("utf-8")


def tell_rasa(stack: RunningStack, conversation: str, text: str) -> list[dict[str, Any]]:
    """Sends a message straight to Rasa's ``guichet`` channel (as the API does in ``bot`` mode)."""
    with httpx.Client(base_url=stack.settings.rasa_url, trust_env=False, timeout=30) as rasa:
        response = rasa.post(
            "/webhooks/guichet/webhook",
            json={"sender": conversation, "message": text, "metadata": {"language": "fr"}},
        )
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()
    return messages


def handed_off(stack: RunningStack) -> str:
    """A new French conversation whose citizen asked for a person (the API's mode is now ``waiting``)."""
    with stack.client() as client:
        conversation, headers = open_conversation(client, "fr")
        reply = say(client, conversation, headers, ASK_FOR_A_PERSON, mode="waiting")
        assert reply["messages"], "the bot says what happens next"
    return conversation


def test_the_handoff_pauses_the_tracker_and_the_signed_route_resumes_it(stack: RunningStack) -> None:
    conversation = handed_off(stack)
    events = rasa_events(stack, conversation)
    assert ("action", "action_handoff") in events
    # the action's events: what it said, then the pause; no action_listen is predicted after it
    after_handoff = events[events.index(("action", "action_handoff")) + 1 :]
    assert after_handoff == [("bot", None), ("pause", None)]

    # paused, Rasa keeps the citizen's message but the bot says nothing
    assert tell_rasa(stack, conversation, "bonjour ?") == []

    answer = resume(stack, resume_body(conversation))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"resumed": True, "was_paused": True}
    events = rasa_events(stack, conversation)
    paused_at = events.index(("pause", None))
    assert [event for event in events[paused_at:] if event[0] != "slot"] == [
        ("pause", None),
        ("user", None),  # "bonjour ?", kept while paused (its language slot set too), answered by no action
        ("resume", None),
        ("action", "action_listen"),  # the citizen's next message starts a new turn
    ]

    # the bot has the conversation again: it answers from the knowledge base
    reply = tell_rasa(stack, conversation, "comment refaire mon passeport ?")
    assert reply and reply[0]["source"]["slug"] == "passport"
    passport = ENTRIES["passport"].fr
    assert passport is not None and reply[0]["text"] == passport.answer.strip()

    # resuming again changes nothing the bot does; the tracker was no longer paused
    body = resume_body(conversation)
    again = resume(stack, body, signature=f"sha256={sign(shared_secret(stack), body).upper()}")
    assert again.json() == {"resumed": True, "was_paused": False}


def test_a_badly_signed_resume_is_refused(stack: RunningStack) -> None:
    conversation = handed_off(stack)
    before = rasa_events(stack, conversation)
    body = resume_body(conversation)
    assert resume(stack, body, secret="not-the-shared-secret").status_code == 401
    assert resume(stack, body, signature="").status_code == 401
    assert resume(stack, body, signature="sha256=" + "0" * 64).status_code == 401
    tampered = resume_body(conversation + "x")
    assert resume(stack, tampered, signature=sign(shared_secret(stack), body)).status_code == 401
    with httpx.Client(base_url=stack.settings.rasa_url, trust_env=False, timeout=30) as rasa:
        unsigned = rasa.post(RESUME_PATH, content=body, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    assert rasa_events(stack, conversation) == before
    assert ("pause", None) in before


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"conversation_id": 42}', b'{"conversation_id": ""}', b'{"id": "abc"}'],
)
def test_a_signed_resume_without_a_conversation_is_a_bad_request(stack: RunningStack, body: bytes) -> None:
    answer = resume(stack, body)
    assert answer.status_code == 400, answer.text
    assert "conversation_id" in answer.json()["detail"]


def test_resuming_a_conversation_rasa_does_not_know_records_nothing(stack: RunningStack) -> None:
    answer = resume(stack, resume_body("no-such-conversation"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"resumed": True, "was_paused": False}
    assert rasa_events(stack, "no-such-conversation") == []
