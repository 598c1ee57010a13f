"""Switching the conversation's language when the citizen asks ("can we speak English?").

The action only sets the ``language`` slot; a rule then says ``utter_language_changed``, which Rasa renders in
the new language.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import context
from knowledge_base.lexical import normalize_text
from knowledge_base.models import LANGUAGES

#: Words naming a language, accents stripped, lowercase.
LANGUAGE_WORDS = {
    "en": ("english", "anglais", "anglaise", "inglese", "ingles"),
    "fr": ("french", "francais", "francaise"),
}
#: Words that turn "I speak French" into "I don't speak French" (accents stripped, lowercase).
NEGATIONS = frozenset({"not", "dont", "don", "doesnt", "cant", "cannot", "no", "ne", "pas", "n"})
_WORD = re.compile(r"[a-z]+")


def requested_language(text: str, current: str) -> str:
    """The language the citizen asks for: the one the message names, else the other one.

    A message naming one language with a negation ("I don't speak French", "je ne parle pas anglais") asks
    for the other one.

    Args:
        text: The citizen's message, e.g. "on peut parler anglais ?".
        current: The conversation's current language.

    Returns:
        ``fr`` or ``en``.
    """
    words = set(_WORD.findall(normalize_text(text)))
    named = [language for language, names in LANGUAGE_WORDS.items() if words & set(names)]
    other = {"fr": "en", "en": "fr"}
    if len(named) == 1:
        return other[named[0]] if words & NEGATIONS else named[0]
    return other.get(current, "fr")


class ActionChangeLanguage(Action):
    """Sets the ``language`` slot to the language the citizen asks for."""

    def name(self) -> str:
        """The action's name in the domain."""
        return "action_change_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        """Switches the language; the rule's next response confirms it in that language."""
        previous = _previous_language(tracker)
        text = tracker.latest_message.get("text") or ""
        return [SlotSet(context.LANGUAGE, requested_language(text, previous))]


def _previous_language(tracker: Tracker) -> str:
    """The language before this message (its own detected language may already have changed the slot)."""
    hint = (tracker.latest_message.get("metadata") or {}).get("language")
    return hint if hint in LANGUAGES else context.citizen_language(tracker)
