"""Answering a citizen's question, or a follow-up about one of its details, from the knowledge base.

The answer pipeline, as small named stages: the language comes from the ``language`` slot (detected in Rasa's
NLU pipeline), then retrieve, decide (answer, ask which entry, or admit it is unsure), compose. The action
reports what it decided in the ``outcome`` slot; the rules choose what follows (ask to rephrase, offer a
person...).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from actions.compose import answer_messages
from actions.messages import render
from actions.searcher import get_searcher
from knowledge_base.models import Entry
from knowledge_base.search import Searcher, SearchResult

logger = logging.getLogger(__name__)

#: The detail of an entry each follow-up intent asks about.
DETAIL_OF_INTENT = {
    "ask_cost": "cost",
    "ask_documents": "documents",
    "ask_delay": "delay",
    "ask_where": "where",
}

#: Entries scoring within this much of the best one are offered as a choice instead of an answer. Chosen on
#: the tuning question sets: it offers a choice on 5 of 7 wrong first answers and 5 of 348 right ones.
AMBIGUITY_MARGIN = 0.03
#: At most this many entries are offered in a clarifying question.
MAX_CHOICES = 3


@dataclass(frozen=True)
class Decision:
    """What to do with a question.

    Attributes:
        outcome: A value of the ``outcome`` slot: ``answered``, ``ambiguous``, ``unsure`` or ``no_procedure``.
        entry: The entry to answer from (``answered``).
        choices: The entries to choose from (``ambiguous``).
    """

    outcome: str
    entry: Entry | None = None
    choices: list[Entry] = field(default_factory=list)


def retrieve(searcher: Searcher, question: str, language: str) -> SearchResult:
    """Searches the knowledge base for the question."""
    return searcher.search(question, lang=language, k=5)


def decide(result: SearchResult) -> Decision:
    """Answers from the best entry, asks which one when others are as close, or admits it is unsure.

    Args:
        result: The search result of the question.

    Returns:
        The decision.
    """
    if not result.answered or not result.hits:
        return Decision(context.UNSURE)
    best = result.hits[0]
    close = [hit for hit in result.hits if best.score - hit.score <= AMBIGUITY_MARGIN][:MAX_CHOICES]
    if len(close) > 1:
        return Decision(context.AMBIGUOUS, choices=[hit.entry for hit in close])
    return Decision(context.ANSWERED, entry=best.entry)


def decide_follow_up(current: Entry | None) -> Decision:
    """Picks the entry a follow-up ("how much does it cost?") is about: the procedure under discussion.

    The follow-up intents are trained on questions that name no procedure; a question that names one ("how
    much is an ID card?") is an ``ask_procedure`` and is searched. The text of a follow-up is therefore not
    searched: generic words ("cost", "papiers") would match some entry or other.

    Args:
        current: The procedure under discussion, if any.

    Returns:
        ``answered`` from the current procedure, or ``no_procedure``.
    """
    if current is None:
        return Decision(context.NO_PROCEDURE)
    return Decision(context.ANSWERED, entry=current)


def choice_button(entry: Entry, language: str) -> dict[str, str]:
    """A button choosing an entry; its payload asks for that entry by slug, bypassing the NLU."""
    _, localized = entry.localized(language)
    payload = "/ask_procedure" + json.dumps({"procedure": entry.slug}, separators=(",", ":"))
    return {"title": localized.title, "payload": payload}


class ActionAnswerQuestion(Action):
    """Answers a procedure question or a follow-up from the knowledge base, or says why it cannot."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Retrieves, decides and composes; reports the outcome and remembers the procedure."""
        searcher = get_searcher()
        language = context.citizen_language(tracker)
        text = (tracker.latest_message.get("text") or "").strip()
        intent = context.latest_intent(tracker)
        detail = DETAIL_OF_INTENT.get(intent or "")
        previous_outcome = tracker.get_slot(context.OUTCOME)
        if detail is None and previous_outcome in (context.NO_PROCEDURE, context.AMBIGUOUS):
            detail = tracker.get_slot(context.DETAIL)  # the detail asked before "which procedure?"

        decision = self._decide(searcher, tracker, text, language, intent)
        logger.info("%r (%s, %s): %s", text, intent, language, decision.outcome)

        if decision.outcome == context.ANSWERED and decision.entry is not None:
            for message in answer_messages(decision.entry, language, detail):
                dispatcher.utter_message(**message)
            dispatcher.utter_message(**render("ask_feedback", language))
            return [
                SlotSet(context.OUTCOME, context.ANSWERED),
                SlotSet(context.PROCEDURE, decision.entry.slug),
                SlotSet(context.FAILURES, 0.0),
                SlotSet(context.DETAIL, None),
            ]
        if decision.outcome == context.AMBIGUOUS:
            buttons = [choice_button(entry, language) for entry in decision.choices]
            question = render("ask_which_one", language)
            dispatcher.utter_message(**{**question, "buttons": buttons})
            return [SlotSet(context.OUTCOME, context.AMBIGUOUS), SlotSet(context.DETAIL, detail)]
        if decision.outcome == context.NO_PROCEDURE:
            return [SlotSet(context.OUTCOME, context.NO_PROCEDURE), SlotSet(context.DETAIL, detail)]
        failures = context.failures(tracker) + 1
        return [
            SlotSet(context.OUTCOME, context.UNSURE if failures < 2 else context.UNSURE_AGAIN),
            SlotSet(context.FAILURES, float(failures)),
            SlotSet(context.DETAIL, None),
        ]

    @staticmethod
    def _decide(
        searcher: Searcher, tracker: Tracker, text: str, language: str, intent: str | None
    ) -> Decision:
        chosen = next(tracker.get_latest_entity_values(context.PROCEDURE), None)
        if isinstance(chosen, str) and context.is_payload(text):
            entry = searcher.get(chosen)
            return Decision(context.ANSWERED, entry=entry) if entry else Decision(context.UNSURE)
        if not text or context.is_payload(text):
            return Decision(context.UNSURE)
        if intent in DETAIL_OF_INTENT:
            slug = tracker.get_slot(context.PROCEDURE)
            return decide_follow_up(searcher.get(slug) if isinstance(slug, str) else None)
        return decide(retrieve(searcher, text, language))
