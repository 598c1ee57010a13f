"""Answering a citizen's question from the knowledge base.

The answer pipeline, as small named stages: the language comes from the
``language`` slot (detected in Rasa's NLU pipeline), then retrieve, decide
(answer or abstain), compose.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.searcher import get_searcher
from knowledge_base.models import LANGUAGES, Entry
from knowledge_base.search import SearchResult

logger = logging.getLogger(__name__)

DEFAULT_LANGUAGE = "fr"

#: Said before an answer that exists only in the other language.
OTHER_LANGUAGE_NOTICE = {
    "en": "This information is only available in French:",
    "fr": "Cette information n'est disponible qu'en anglais :",
}


def citizen_language(tracker: Tracker) -> str:
    """The conversation's current language (the ``language`` slot)."""
    language = tracker.get_slot("language")
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def retrieve(question: str, language: str) -> SearchResult:
    """Searches the knowledge base for the question."""
    return get_searcher().search(question, lang=language, k=5)


def compose(entry: Entry, language: str) -> tuple[str, dict[str, Any]]:
    """The answer's text in the citizen's language, and its source.

    Args:
        entry: the knowledge-base entry that answers.
        language: the citizen's language.

    Returns:
        The Markdown text and ``{"slug", "title", "url"}`` of the entry.
    """
    used, localized = entry.localized(language)
    text = localized.answer.strip()
    if used != language:
        text = f"{OTHER_LANGUAGE_NOTICE[language]}\n\n{text}"
    source = {"slug": entry.slug, "title": localized.title, "url": localized.url}
    return text, source


class ActionAnswerQuestion(Action):
    """Answers a procedure question from the knowledge base, or says it does not know."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Retrieves, decides and answers; remembers the procedure under discussion."""
        language = citizen_language(tracker)
        question = (tracker.latest_message.get("text") or "").strip()
        result = retrieve(question, language)
        if not result.answered or not result.hits:
            best = result.hits[0].score if result.hits else None
            logger.info("abstained on %r (best score %s)", question, best)
            dispatcher.utter_message(response="utter_cannot_answer")
            return [SlotSet("procedure", None)]
        best_hit = result.hits[0]
        text, source = compose(best_hit.entry, language)
        dispatcher.utter_message(text=text, metadata={"language": language, "source": source})
        return [SlotSet("procedure", best_hit.slug)]
