"""Composing the bot's messages from a knowledge-base entry: the whole answer, or one detail of it.

Each message is a dictionary of keyword arguments for ``CollectingDispatcher.utter_message``. Every message
drawn from an entry carries ``metadata = {"language", "source": {"slug", "title", "url"}}``, which the
``guichet`` channel passes on to the API.
"""

from __future__ import annotations

from typing import Any

from actions.messages import render
from knowledge_base.models import Entry, Localized

#: Said before an answer that exists only in the other language.
OTHER_LANGUAGE_NOTICE = {
    "en": "This information is only available in French:",
    "fr": "Cette information n'est disponible qu'en anglais :",
}

#: The details a follow-up can ask about (each stated by the message ``detail_<name>``).
DETAILS = ("cost", "documents", "delay", "where")


def source_of(entry: Entry, localized: Localized) -> dict[str, Any]:
    """The ``source`` of a message drawn from an entry's localized version."""
    return {"slug": entry.slug, "title": localized.title, "url": localized.url}


def noticed(text: str, used: str, language: str) -> str:
    """The text, after the other-language notice when it is in ``used`` rather than ``language``."""
    return text if used == language else f"{OTHER_LANGUAGE_NOTICE[language]}\n\n{text}"


def compose(entry: Entry, language: str) -> tuple[str, dict[str, Any]]:
    """The answer's text in the citizen's language, and its source.

    Args:
        entry: the knowledge-base entry that answers.
        language: the citizen's language.

    Returns:
        The Markdown text and ``{"slug", "title", "url"}`` of the entry.
    """
    used, localized = entry.localized(language)
    return noticed(localized.answer.strip(), used, language), source_of(entry, localized)


def detail_value(localized: Localized, detail: str) -> str | None:
    """The text of one detail of an entry (documents as a Markdown list), or None when the entry lacks it."""
    if detail == "documents":
        return "\n".join(f"- {document}" for document in localized.documents) or None
    value = getattr(localized, detail, None)
    if detail == "where" and not value and localized.url:
        value = localized.url
    return value.strip() if isinstance(value, str) and value.strip() else None


def answer_messages(entry: Entry, language: str, detail: str | None = None) -> list[dict[str, Any]]:
    """The messages answering from an entry: one detail of it when asked and known, else the whole answer.

    Args:
        entry: The entry answering.
        language: The citizen's language.
        detail: ``cost``, ``documents``, ``delay`` or ``where``; None for the whole answer.

    Returns:
        ``utter_message`` keyword arguments, in order. A detail the entry lacks is said so, followed by the
        whole answer.
    """
    used, localized = entry.localized(language)
    metadata = {"language": language, "source": source_of(entry, localized)}
    messages: list[dict[str, Any]] = []
    if detail in DETAILS:
        value = detail_value(localized, detail)
        if value is not None:
            stated = render(f"detail_{detail}", language, title=localized.title, **{detail: value})
            return [{**stated, "text": noticed(stated["text"], used, language), "metadata": metadata}]
        messages.append({**render("detail_missing", language, title=localized.title), "metadata": metadata})
    messages.append({"text": noticed(localized.answer.strip(), used, language), "metadata": metadata})
    return messages
