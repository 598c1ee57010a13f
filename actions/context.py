"""What the actions read from a conversation's tracker: language, procedure, recent turns.

The slots and outcomes named here are declared in ``bot/domain.yml``; rules in
``training_data/rules.yml`` react to the ``outcome`` slot.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rasa_sdk import Tracker

from knowledge_base.models import LANGUAGES

DEFAULT_LANGUAGE = "fr"

# Slots.
LANGUAGE = "language"
PROCEDURE = "procedure"
OUTCOME = "outcome"
FAILURES = "failures"
DETAIL = "detail"

# Values of the ``outcome`` slot (what action_answer_question did).
ANSWERED = "answered"
AMBIGUOUS = "ambiguous"
UNSURE = "unsure"
UNSURE_AGAIN = "unsure_again"
NO_PROCEDURE = "no_procedure"


def citizen_language(tracker: Tracker) -> str:
    """The conversation's current language (the ``language`` slot)."""
    language = tracker.get_slot(LANGUAGE)
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def latest_intent(tracker: Tracker) -> str | None:
    """The intent of the citizen's latest message."""
    intent = tracker.latest_message.get("intent") or {}
    name = intent.get("name")
    return name if isinstance(name, str) else None


def failures(tracker: Tracker) -> int:
    """Unsure turns in a row so far."""
    value = tracker.get_slot(FAILURES)
    try:
        return max(0, int(float(value)))
    except (TypeError, ValueError):
        return 0


def _events_backwards(tracker: Tracker) -> Iterator[dict[str, Any]]:
    events: list[dict[str, Any]] = list(tracker.events or [])
    yield from reversed(events)


def is_payload(text: str) -> bool:
    """Whether a message is a button's payload (``/intent{...}``) rather than typed text."""
    return text.startswith("/")


def _messages_before(tracker: Tracker, action: str) -> Iterator[dict[str, Any]]:
    """The citizen's messages (``user`` events) before the latest run of ``action``, latest first."""
    seen_action = False
    for event in _events_backwards(tracker):
        if event.get("event") == "action" and event.get("name") == action:
            seen_action = True
        elif seen_action and event.get("event") == "user":
            yield event


def question_before(tracker: Tracker, action: str) -> str | None:
    """The last text the citizen typed before the latest run of ``action``.

    Args:
        tracker: The conversation.
        action: An action's name, e.g. ``action_answer_question``.

    Returns:
        The citizen's text (button payloads skipped), or None.
    """
    for event in _messages_before(tracker, action):
        text = (event.get("text") or "").strip()
        if text and not is_payload(text):
            return text
    return None


def previous_action(tracker: Tracker) -> str | None:
    """The last action run before the citizen's latest message (``action_listen`` excepted)."""
    seen_message = False
    for event in _events_backwards(tracker):
        if event.get("event") == "user":
            seen_message = True
        elif seen_message and event.get("event") == "action" and event.get("name") != "action_listen":
            name = event.get("name")
            return name if isinstance(name, str) else None
    return None


def intent_before(tracker: Tracker, action: str) -> str | None:
    """The intent of the citizen's last message before the latest run of ``action``."""
    for event in _messages_before(tracker, action):
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        return name if isinstance(name, str) else None
    return None
