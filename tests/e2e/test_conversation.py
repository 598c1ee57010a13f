"""A citizen chats with the real stack, in French and in English.

Everything here goes through the API, which forwards to the real Rasa server,
which calls the real action server, which searches the real knowledge base.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import pytest

from knowledge_base.config import KnowledgeBaseSettings
from knowledge_base.store import load_entries
from tests.stack import RunningStack

pytestmark = pytest.mark.e2e

ENTRIES = {entry.slug: entry for entry in load_entries(KnowledgeBaseSettings().entries_dir)}


def open_conversation(client: httpx.Client, language: str | None) -> tuple[str, dict[str, str]]:
    response = client.post("/api/conversations", json={"language": language})
    assert response.status_code == 201, response.text
    body = response.json()
    return body["id"], {"Authorization": f"Bearer {body['token']}"}


def say(
    client: httpx.Client, conversation: str, headers: dict[str, str], text: str, mode: str = "bot"
) -> dict[str, Any]:
    """Sends a message; checks the conversation's mode after it, and that the bot replied while it has it."""
    response = client.post(
        f"/api/conversations/{conversation}/messages", json={"text": text}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["mode"] == mode, body
    assert body["messages"] or mode != "bot", f"no reply to {text!r}"
    return body


def assert_asks_for_feedback(message: dict[str, Any]) -> None:
    """The message after a knowledge-base answer asks whether it helped, with yes/no buttons."""
    assert message["source"] is None
    assert [button["payload"] for button in message["buttons"]] == ["/affirm", "/deny"]


def test_health_reports_every_component_ready(stack: RunningStack) -> None:
    with stack.client() as client:
        response = client.get("/health")
    assert response.status_code == 200, response.text
    assert response.json() == {
        "status": "ok",
        "checks": {"rasa": "ok", "actions": "ok", "database": "ok", "knowledge_base": "ok"},
    }


def test_french_conversation_is_answered_in_french_from_the_knowledge_base(stack: RunningStack) -> None:
    with stack.client() as client:
        conversation, headers = open_conversation(client, "fr")

        greeting = say(client, conversation, headers, "Bonjour")
        assert greeting["language"] == "fr"
        assert greeting["messages"][0]["source"] is None
        assert "Bonjour" in greeting["messages"][0]["text"]

        answer = say(client, conversation, headers, "Comment je fais pour refaire mon passeport ?")
        assert answer["language"] == "fr"
        message = answer["messages"][0]
        passport = ENTRIES["passport"]
        assert passport.fr is not None
        assert message["source"] == {"slug": "passport", "title": passport.fr.title, "url": passport.fr.url}
        assert message["text"] == passport.fr.answer.strip()
        assert_asks_for_feedback(answer["messages"][1])

        bins = say(client, conversation, headers, "quels jours passe le camion poubelle ?")
        assert bins["messages"][0]["source"]["slug"] == "waste-collection"

        stored = client.get(f"/api/conversations/{conversation}/messages", headers=headers).json()

    authors = [item["author"] for item in stored]
    assert authors == ["citizen", "bot", "citizen", "bot", "bot", "citizen", "bot", "bot"]
    assert [item["seq"] for item in stored] == list(range(1, 9))
    assert stored[2]["text"] == "Comment je fais pour refaire mon passeport ?"
    assert stored[3]["text"] == message["text"]
    assert stored[3]["seq"] == message["seq"]


def test_english_conversation_is_answered_in_english(stack: RunningStack) -> None:
    with stack.client() as client:
        conversation, headers = open_conversation(client, None)

        answer = say(client, conversation, headers, "Hello, how can I register to vote in the elections?")
        assert answer["language"] == "en"
        message = answer["messages"][0]
        entry = ENTRIES["voter-registration"]
        assert entry.en is not None
        assert message["source"] == {
            "slug": "voter-registration",
            "title": entry.en.title,
            "url": entry.en.url,
        }
        assert message["text"] == entry.en.answer.strip()

        # a short French word does not switch an English conversation
        thanks = say(client, conversation, headers, "merci")
        assert thanks["language"] == "en"
        assert thanks["messages"][0]["source"] is None

        # a whole sentence in French does
        switched = say(client, conversation, headers, "Quels sont les horaires d'ouverture de la mairie ?")
        assert switched["language"] == "fr"
        assert switched["messages"][0]["source"]["slug"] == "opening-hours"


def test_a_conversation_without_a_chosen_language_follows_the_first_message(stack: RunningStack) -> None:
    with stack.client() as client:
        conversation, headers = open_conversation(client, None)
        greeting = say(client, conversation, headers, "Hello!")
        assert greeting["language"] == "en"
        assert greeting["messages"][0]["text"].startswith("Hello!")
        # from now on the language is known: a short French word keeps the conversation in English
        assert say(client, conversation, headers, "merci")["language"] == "en"


def test_out_of_scope_questions_get_no_knowledge_base_answer(stack: RunningStack) -> None:
    with stack.client() as client:
        for language, text in [
            ("en", "Can you give me a good recipe for chocolate cake?"),
            ("fr", "Qui a gagné le match de foot hier soir ?"),
        ]:
            conversation, headers = open_conversation(client, language)
            reply = say(client, conversation, headers, text)
            assert reply["language"] == language
            assert all(message["source"] is None for message in reply["messages"]), reply


def test_messages_are_stored_by_the_api_and_rasa_keeps_the_conversation(stack: RunningStack) -> None:
    with stack.client() as client:
        conversation, headers = open_conversation(client, "en")
        say(client, conversation, headers, "Where can I get a copy of my birth certificate?")

    with sqlite3.connect(stack.var_dir / "guichet.db") as db:
        rows = db.execute(
            "SELECT seq, author, text FROM messages WHERE conversation_id = ? ORDER BY seq", (conversation,)
        ).fetchall()
    assert [(seq, author) for seq, author, _ in rows] == [(1, "citizen"), (2, "bot"), (3, "bot")]
    assert rows[0][2] == "Where can I get a copy of my birth certificate?"

    with sqlite3.connect(stack.var_dir / "rasa-tracker.db") as db:
        events = db.execute("SELECT type_name FROM events WHERE sender_id = ?", (conversation,)).fetchall()
    kinds = {kind for (kind,) in events}
    assert {"user", "bot", "action", "slot"} <= kinds
