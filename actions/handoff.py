"""Passing the conversation to a human agent, through the API's signed handoff webhook.

The API puts the conversation in the agents' queue (its mode becomes ``waiting``) and answers whether an agent
can take it: if so, the citizen hears their place in the queue (and the estimated wait, when the API has one);
if not (the office is closed, or no agent is online), the handoff is a ticket and the citizen is invited to
leave a message and a way to be reached. Either way the action pauses Rasa's tracker: the conversation is the
agents' until the API resumes it (``POST /webhooks/guichet/resume`` of ``bot/channels.py``).

When the API cannot be reached, the citizen gets the town hall's phone and e-mail instead, and the bot keeps
the conversation.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from actions.api_client import HANDOFF_PATH, WebhookError, post_webhook
from actions.messages import render

logger = logging.getLogger(__name__)

OFFER_ACTION = "utter_offer_human"

#: Why a handoff was offered, from the intent of the message that led to the offer.
REASON_OF_INTENT = {"complain": "frustration", "deny": "not_helpful"}

#: The reason of an offer that followed none of those: the bot misunderstood the citizen repeatedly.
MISUNDERSTOOD = "misunderstood"

#: How many of the conversation's latest messages the API is sent.
TRANSCRIPT_LENGTH = 50


def handoff_reason(tracker: Tracker) -> str:
    """Why the conversation goes to a person (``requested``, ``frustration``, ``not_helpful``, ...).

    A citizen who asks out of the blue ``requested`` it; one who accepts the bot's offer (typing yes or
    clicking its button) gets the reason of the offer: what the citizen said before it (a complaint, a "no"
    to "did this help?"), or else ``misunderstood`` (the bot failed to understand twice in a row).
    """
    if context.latest_intent(tracker) == "request_human" and context.previous_action(tracker) != OFFER_ACTION:
        return "requested"
    return REASON_OF_INTENT.get(context.intent_before(tracker, OFFER_ACTION) or "", MISUNDERSTOOD)


def _payload_key(payload: str) -> tuple[str, str] | None:
    """A button payload as ``(intent, entities)``, the ``language`` entity the channel adds left out."""
    intent, brace, arguments = payload.partition("{")
    entities: Any = {}
    if brace:
        try:
            entities = json.loads(brace + arguments)
        except ValueError:
            return None
    if not isinstance(entities, dict):
        return None
    entities.pop("language", None)
    return intent.strip(), json.dumps(entities, sort_keys=True)


def _button_title(payload: str, buttons: Iterable[Any]) -> str | None:
    """The title of the button, among the bot's last ones, that sent this payload."""
    key = _payload_key(payload)
    if key is None:
        return None
    for button in buttons:
        if not isinstance(button, dict) or not isinstance(button.get("payload"), str):
            continue
        if _payload_key(button["payload"]) == key and button.get("title"):
            return str(button["title"])
    return None


def transcript(tracker: Tracker, limit: int = TRANSCRIPT_LENGTH) -> list[dict[str, str]]:
    """The conversation so far, as the agents will read it: ``[{"author": "citizen"|"bot", "text"}]``.

    The citizen's messages (``user`` events) and the bot's (``bot`` events), oldest first, the empty ones
    skipped, at most the ``limit`` latest. A button the citizen clicked reads as its title.
    """
    lines: list[dict[str, str]] = []
    buttons: list[Any] = []
    for event in tracker.events or []:
        kind = event.get("event")
        if kind not in ("user", "bot"):
            continue
        text = event.get("text")
        text = text.strip() if isinstance(text, str) else ""
        if kind == "bot":
            data = event.get("data") or {}
            buttons = list(data.get("buttons") or []) if isinstance(data, dict) else []
        elif context.is_payload(text):
            text = _button_title(text, buttons) or text
        if text:
            lines.append({"author": "citizen" if kind == "user" else "bot", "text": text})
    return lines[-limit:] if limit > 0 else []


def handoff_payload(tracker: Tracker) -> dict[str, Any]:
    """The handoff request: the conversation, its language, why, the procedure discussed, the transcript."""
    slug = tracker.get_slot(context.PROCEDURE)
    return {
        "conversation_id": tracker.sender_id,
        "language": context.citizen_language(tracker),
        "reason": handoff_reason(tracker),
        "note": f"procedure: {slug}" if isinstance(slug, str) and slug else None,
        "transcript": transcript(tracker),
    }


def _positive_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def handoff_message(answer: dict[str, Any], language: str) -> dict[str, Any]:
    """What the citizen is told once the API has answered the handoff request.

    Args:
        answer: The webhook's answer: ``queue_position``, ``estimated_wait_seconds``, ``available``,
            ``unavailable_reason`` (``closed`` or ``no_agent``), ``office_hours``; an answer without
            ``available`` is taken as available.
        language: The citizen's language.

    Returns:
        The message, as ``CollectingDispatcher.utter_message`` keyword arguments.
    """
    if answer.get("available", True) is False:
        office_hours = answer.get("office_hours")
        if answer.get("unavailable_reason") == "closed" and isinstance(office_hours, str) and office_hours:
            return render("handoff_offline", language, office_hours=office_hours.strip())
        return render("handoff_no_agent", language)
    position = answer.get("queue_position")
    if position == 0 and not isinstance(position, bool):  # an agent already has the conversation
        return render("handoff_active", language)
    queue_position = _positive_int(position) or 1
    wait = _positive_int(answer.get("estimated_wait_seconds"))
    if wait is None:
        return render("handoff_started", language, queue_position=queue_position)
    minutes = max(1, math.ceil(wait / 60))
    return render("handoff_started_wait", language, queue_position=queue_position, minutes=minutes)


class ActionHandoff(Action):
    """Asks the API to hand the conversation to an agent, and tells the citizen what happens next."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Starts the handoff and pauses the tracker; gives the town hall's contacts if the API fails."""
        payload = handoff_payload(tracker)
        language = context.citizen_language(tracker)
        try:
            answer = await post_webhook(HANDOFF_PATH, payload) or {}
        except WebhookError as error:
            logger.error("handoff of %s failed: %s", tracker.sender_id, error)
            dispatcher.utter_message(**render("handoff_unavailable", language))
            return []
        logger.info(
            "conversation %s handed off (%s): position %s, available %s (%s)",
            tracker.sender_id,
            payload["reason"],
            answer.get("queue_position"),
            answer.get("available", True),
            answer.get("unavailable_reason"),
        )
        dispatcher.utter_message(**handoff_message(answer, language))
        return [ConversationPaused()]
