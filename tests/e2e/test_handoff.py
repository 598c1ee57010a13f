"""A whole handoff through the real processes: the citizen asks for a person in French, an agent claims the
conversation, they write to each other live, the agent closes it, and the bot answers again in French.

The agent's account is made with the real command line; both sides listen on their real WebSockets.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from actions.messages import render
from tests.e2e.test_conversation import open_conversation, say
from tests.stack import AGENT_PASSWORD, RunningStack, create_agent

pytestmark = pytest.mark.e2e


@contextmanager
def socket(stack: RunningStack, path: str) -> Iterator[Connection]:
    with connect(stack.api_url.replace("http://", "ws://") + path, open_timeout=10) as connection:
        yield connection


def next_event(connection: Connection, kind: str, **expected: Any) -> dict[str, Any]:
    """Read events until one of a type whose fields include ``expected`` (nested ``message`` fields too)."""
    for _ in range(100):
        event: dict[str, Any] = json.loads(connection.recv(timeout=20))
        if event.get("type") != kind:
            continue
        fields = {**event, **event.get("message", {})} if isinstance(event.get("message"), dict) else event
        if all(fields.get(key) == value for key, value in expected.items()):
            return event
    raise AssertionError(f"no {kind} event with {expected}")


def tracker_events(stack: RunningStack, conversation: str) -> list[tuple[str, str | None]]:
    """The events of a conversation in Rasa's tracker store: (type, user text or action name)."""
    with sqlite3.connect(stack.var_dir / "rasa-tracker.db") as db:
        rows = db.execute(
            "SELECT type_name, coalesce(json_extract(data, '$.text'), action_name) FROM events "
            "WHERE sender_id = ? ORDER BY id",
            (conversation,),
        ).fetchall()
    return [(kind, detail) for kind, detail in rows]


def test_a_citizen_hands_off_in_french_and_gets_the_bot_back_in_french(stack: RunningStack) -> None:
    create_agent("claire", "Claire")
    with stack.client() as client:
        login = client.post("/api/auth/login", json={"username": "claire", "password": AGENT_PASSWORD})
        assert login.status_code == 200, login.text
        agent = {"Authorization": f"Bearer {login.json()['token']}"}
        client.cookies.clear()

        with socket(stack, f"/api/agent/ws?token={login.json()['token']}") as desk:
            assert next_event(desk, "hello")["agent"]["display_name"] == "Claire"

            conversation, citizen = open_conversation(client, "fr")
            asked = say(client, conversation, citizen, "je voudrais parler à un conseiller", mode="waiting")
            assert asked["language"] == "fr"
            # An agent is online and the office open: a live handoff, with the citizen's place in the queue.
            waiting = next_event(desk, "handoff", event="waiting")["handoff"]
            assert (waiting["conversation_id"], waiting["language"], waiting["reason"], waiting["kind"]) == (
                conversation,
                "fr",
                "requested",
                "live",
            )
            position = client.get("/api/handoffs?status=waiting", headers=agent).json()
            place = [h["id"] for h in position].index(waiting["id"]) + 1
            # Other tests of the session may have closed handoffs already: then the wait is estimated too.
            announced = {render("handoff_started", "fr", queue_position=place)["text"]} | {
                render("handoff_started_wait", "fr", queue_position=place, minutes=minutes)["text"]
                for minutes in range(1, 121)
            }
            assert asked["messages"][0]["text"] in announced

            token = citizen["Authorization"].removeprefix("Bearer ")
            with socket(stack, f"/api/conversations/{conversation}/ws?token={token}") as widget:
                assert next_event(widget, "status")["mode"] == "waiting"

                claimed = client.post(f"/api/handoffs/{waiting['id']}/claim", headers=agent)
                assert claimed.status_code == 200, claimed.text
                joined = next_event(widget, "message", author="system")["message"]
                assert joined["text"] == "Claire, de la mairie, a rejoint la conversation."
                assert next_event(widget, "status") == {
                    "type": "status",
                    "mode": "agent",
                    "queue_position": None,
                }

                client.post(
                    f"/api/handoffs/{waiting['id']}/messages",
                    json={"text": "Bonjour, que puis-je faire pour vous ?"},
                    headers=agent,
                )
                assert next_event(widget, "message", author="agent")["message"]["text"] == (
                    "Bonjour, que puis-je faire pour vous ?"
                )
                during = say(client, conversation, citizen, "Mon passeport est périmé.", mode="agent")
                assert during["messages"] == []
                next_event(desk, "message", handoff_id=waiting["id"], text="Mon passeport est périmé.")

                closed = client.post(
                    f"/api/handoffs/{waiting['id']}/close", json={"resume_bot": True}, headers=agent
                )
                assert closed.status_code == 200, closed.text
                back = next_event(widget, "message", author="bot")["message"]
                assert back["text"].startswith(
                    "Claire a terminé la conversation. C'est à nouveau l'assistant"
                )
                assert next_event(widget, "status")["mode"] == "bot"

        # The bot answers again, in French, from the knowledge base.
        answer = say(client, conversation, citizen, "comment renouveler mon passeport ?")
        assert answer["language"] == "fr"
        assert answer["messages"][0]["source"]["slug"] == "passport"

    events = tracker_events(stack, conversation)
    kinds = [kind for kind, _ in events]
    # Rasa recorded the pause at the handoff and the resumption at the close; it never saw the messages
    # exchanged with the agent.
    assert kinds.index("pause") < kinds.index("resume")
    user_texts = [detail for kind, detail in events if kind == "user"]
    assert user_texts == ["je voudrais parler à un conseiller", "comment renouveler mon passeport ?"]
