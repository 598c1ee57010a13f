"""The shapes of messages between the Guichet API and the Rasa server, without Rasa (testable anywhere).

Bot messages leave Rasa as ``{"text", "buttons", "language", "source"}``; a button's payload sent by the API
gets the conversation's language added as an entity.
"""

from __future__ import annotations

import json
import re
from typing import Any

LANGUAGES = ("fr", "en")

#: Rasa's button payload: ``/intent`` or ``/intent{"entity": "value"}``.
_PAYLOAD = re.compile(r"/([\w-]+)(\{.*\})?", re.DOTALL)


def normalise_message(message: dict[str, Any]) -> dict[str, Any]:
    """Turns a message as Rasa sends it to a channel into the Guichet shape.

    Args:
        message: the dictionary given to ``OutputChannel.send_response``: text,
            buttons and data keys, plus the bot utterance's metadata (keyword
            arguments of ``dispatcher.utter_message`` and the ``metadata`` of a
            domain response).

    Returns:
        ``{"text": str, "buttons": [{"title", "payload"}], "language": str | None,
        "source": dict | None}``.
    """
    metadata = message.get("metadata") or {}
    if not isinstance(metadata, dict):
        metadata = {}
    language = metadata.get("language")
    buttons = [
        {"title": str(button.get("title", "")), "payload": str(button.get("payload", ""))}
        for button in message.get("buttons") or []
        if isinstance(button, dict)
    ]
    source = metadata.get("source")
    return {
        "text": message.get("text") or "",
        "buttons": buttons,
        "language": language if language in LANGUAGES else None,
        "source": source if isinstance(source, dict) else None,
    }


def payload_with_language(text: str, language: str | None) -> str:
    """Adds the conversation's language to a button's payload (``/intent{...}``) as a ``language`` entity.

    A payload bypasses the NLU pipeline, language detection included: without this, a conversation whose
    first message is a button would stay in the domain's default language.

    Args:
        text: The message; only payloads (starting with ``/``) are changed.
        language: The conversation's language sent by the API, if any.

    Returns:
        The payload with ``"language"`` among its entities, or the text unchanged.
    """
    match = _PAYLOAD.fullmatch(text)
    if match is None or language not in LANGUAGES:
        return text
    intent, arguments = match.group(1), match.group(2)
    entities: dict[str, Any] = {}
    if arguments:
        try:
            parsed = json.loads(arguments)
        except ValueError:
            return text
        if not isinstance(parsed, dict):
            return text
        entities = parsed
    entities.setdefault("language", language)
    return f"/{intent}{json.dumps(entities, ensure_ascii=False, separators=(',', ':'))}"
