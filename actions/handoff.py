"""Passing the conversation to a human agent, through the API's signed handoff webhook.

The API puts the conversation in the agents' queue (its mode becomes ``waiting``) and answers the citizen's
place in the queue. When the API cannot be reached, the citizen gets the town hall's phone and e-mail instead.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from actions.api_client import HANDOFF_PATH, WebhookError, post_webhook
from actions.messages import render

logger = logging.getLogger(__name__)

OFFER_ACTION = "utter_offer_human"

#: Why a handoff was offered, from the intent of the message that led to the offer.
REASON_OF_INTENT = {"complain": "frustration", "deny": "not_helpful"}


def handoff_reason(tracker: Tracker) -> str:
    """Why the conversation goes to a person: ``requested``, ``frustration``, ``not_helpful``, ``unsure``.

    A citizen who asks out of the blue ``requested`` it; one who accepts the bot's offer (typing yes or
    clicking its button) gets the reason of the offer: what the citizen said before it.
    """
    if context.latest_intent(tracker) == "request_human" and context.previous_action(tracker) != OFFER_ACTION:
        return "requested"
    return REASON_OF_INTENT.get(context.intent_before(tracker, OFFER_ACTION) or "", "unsure")


def handoff_payload(tracker: Tracker) -> dict[str, Any]:
    """The handoff request: the conversation, its language, why, and the procedure under discussion."""
    slug = tracker.get_slot(context.PROCEDURE)
    return {
        "conversation_id": tracker.sender_id,
        "language": context.citizen_language(tracker),
        "reason": handoff_reason(tracker),
        "note": f"procedure: {slug}" if isinstance(slug, str) and slug else None,
    }


class ActionHandoff(Action):
    """Asks the API to hand the conversation to an agent, and tells the citizen what happens next."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_handoff"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Starts the handoff; falls back on the town hall's contact details when the API is unreachable."""
        payload = handoff_payload(tracker)
        try:
            answer = await post_webhook(HANDOFF_PATH, payload) or {}
        except WebhookError as error:
            logger.error("handoff of %s failed: %s", tracker.sender_id, error)
            dispatcher.utter_message(**render("handoff_unavailable", context.citizen_language(tracker)))
            return []
        position = answer.get("queue_position")
        logger.info(
            "conversation %s handed off (%s), position %s", tracker.sender_id, payload["reason"], position
        )
        language = context.citizen_language(tracker)
        if position == 0:  # an agent already has the conversation
            dispatcher.utter_message(**render("handoff_active", language))
        else:
            queue_position = position if isinstance(position, int) and position > 0 else 1
            dispatcher.utter_message(**render("handoff_started", language, queue_position=queue_position))
        return []
