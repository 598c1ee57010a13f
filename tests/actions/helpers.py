"""Helpers of the action tests: trackers as rasa-sdk receives them, running actions, a real API server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from api.config import Settings
from api.main import create_app
from knowledge_base.config import DEFAULT_ENTRIES_DIR
from knowledge_base.models import Entry, Localized
from knowledge_base.store import load_entries

#: The slots of ``bot/domain.yml`` as a new conversation has them.
DOMAIN_SLOTS: dict[str, Any] = {
    "language": "fr",
    "procedure": None,
    "outcome": None,
    "detail": None,
    "failures": None,
}

Event = dict[str, Any]


def user(
    text: str,
    intent: str | None,
    entities: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Event:
    """A citizen's message, as a ``user`` event of the tracker sent to the action server."""
    return {
        "event": "user",
        "text": text,
        "parse_data": parse_data(text, intent, entities),
        "input_channel": "guichet",
        "metadata": dict(metadata or {}),
    }


def action(name: str) -> Event:
    """An action the bot ran (``action_answer_question``, ``utter_offer_human``, ``action_listen``...)."""
    return {"event": "action", "name": name, "policy": "RulePolicy", "confidence": 1.0}


def bot(text: str) -> Event:
    """Something the bot said."""
    return {"event": "bot", "text": text, "data": {}, "metadata": {}}


def slot(name: str, value: Any) -> Event:
    """A slot set during the conversation."""
    return {"event": "slot", "name": name, "value": value}


def parse_data(text: str, intent: str | None, entities: Mapping[str, str] | None = None) -> dict[str, Any]:
    """What Rasa's NLU made of a message: its intent and its entities (``{"procedure": "id-card"}``)."""
    return {
        "text": text,
        "intent": {"name": intent, "confidence": 1.0} if intent is not None else {},
        "entities": [{"entity": name, "value": value} for name, value in (entities or {}).items()],
    }


QUESTION = "comment renouveler mon passeport ?"

#: The citizen typed a question and got an answer asking "did this help?".
AFTER_AN_ANSWER: list[Event] = [
    action("action_listen"),
    user(QUESTION, "ask_procedure"),
    action("action_answer_question"),
    slot("outcome", "answered"),
    slot("procedure", "passport"),
    bot("1. **Faites la pré-demande en ligne**…"),
    bot("Cette réponse vous a-t-elle aidé ?"),
    action("action_listen"),
]

#: The citizen's question was ambiguous; a button chose the entry, which answered.


def tracker(
    text: str,
    intent: str | None,
    *,
    slots: Mapping[str, Any] | None = None,
    events: Sequence[Event] = (),
    entities: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    sender_id: str = "test-conversation",
) -> Tracker:
    """The tracker an action receives when the citizen's latest message is ``text``.

    Args:
        text: The latest message (typed text or a button's payload).
        intent: Its intent.
        slots: Slot values, over those of a new conversation (``language`` ``fr``, the others unset).
        events: What happened before the latest message; the latest message's own ``user`` event is added.
        entities: The latest message's entities, name → value.
        metadata: The latest message's metadata (the API sends the conversation's ``language``).
        sender_id: The conversation's id.

    Returns:
        The tracker.
    """
    latest = {**parse_data(text, intent, entities), "metadata": dict(metadata or {})}
    return Tracker(
        sender_id=sender_id,
        slots={**DOMAIN_SLOTS, **(slots or {})},
        latest_message=latest,
        events=[*events, user(text, intent, entities, metadata)],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(action_object: Any, tracker_object: Tracker) -> tuple[list[dict[str, Any]], list[Event]]:
    """Runs an action as rasa-sdk does; returns what it said (dispatcher messages) and its events."""
    dispatcher = CollectingDispatcher()
    events: list[Event] = asyncio.run(action_object.run(dispatcher, tracker_object, {}))
    messages: list[dict[str, Any]] = dispatcher.messages
    return messages, events


@contextmanager
def closed_port() -> Iterator[int]:
    """A local port where connections are refused: bound (so nobody else takes it) but not listening."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


@dataclass(frozen=True)
class ApiServer:
    """The Guichet API served by uvicorn on a local port.

    Attributes:
        url: Its base URL, e.g. ``http://127.0.0.1:41234``.
        settings: The settings it was created with (database, webhook secret).
    """

    url: str
    settings: Settings


@contextmanager
def serve_api(settings: Settings, startup_timeout: float = 30.0) -> Iterator[ApiServer]:
    """Serves the API (lifespan included: the database is migrated) in a background thread until exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(settings), log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the API server did not start")
            time.sleep(0.02)
        yield ApiServer(url=f"http://127.0.0.1:{port}", settings=settings)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def knowledge_base() -> dict[str, Entry]:
    """The knowledge base's entries (``knowledge_base/entries``), by slug."""
    return {entry.slug: entry for entry in load_entries(DEFAULT_ENTRIES_DIR)}


def localized(entry: Entry, language: str) -> Localized:
    """An entry's version in a language it is written in."""
    version: Localized | None = getattr(entry, language)
    assert version is not None, f"{entry.slug} has no {language} version"
    return version
