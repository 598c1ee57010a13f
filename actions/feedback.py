"""The citizen says whether a knowledge-base answer helped; the verdict is stored for the editors.

Rules run this action when the citizen answers "did this help?" (buttons ``/affirm`` and ``/deny``, or typed);
the rules then thank the citizen, or offer to rephrase or to talk to a person.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from actions.api_client import FEEDBACK_PATH, WebhookError, post_webhook

logger = logging.getLogger(__name__)

ANSWER_ACTION = "action_answer_question"


def feedback_payload(tracker: Tracker) -> dict[str, Any]:
    """The feedback the API stores: the conversation, the verdict, the entry and the question it answered."""
    slug = tracker.get_slot(context.PROCEDURE)
    return {
        "conversation_id": tracker.sender_id,
        "helpful": context.latest_intent(tracker) == "affirm",
        "slug": slug if isinstance(slug, str) else None,
        "question": context.question_before(tracker, ANSWER_ACTION),
        "comment": None,
        "language": context.citizen_language(tracker),
    }


class ActionFeedback(Action):
    """Sends the citizen's verdict on the last answer to the API; says nothing itself."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Stores the feedback; a failure to store it is logged, not shown to the citizen."""
        payload = feedback_payload(tracker)
        try:
            await post_webhook(FEEDBACK_PATH, payload)
        except WebhookError as error:
            logger.error("feedback on %s not stored: %s", payload["slug"], error)
        return []
