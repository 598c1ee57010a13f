"""The messages actions compose, in French and English, from ``actions/messages.yml``."""

from __future__ import annotations

import functools
import string
from pathlib import Path
from typing import Any

import yaml

MESSAGES_FILE = Path(__file__).with_name("messages.yml")


@functools.lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, dict[str, Any]]]:
    """The messages: name → language → ``{"text", "buttons"?}``."""
    with MESSAGES_FILE.open(encoding="utf-8") as stream:
        data: dict[str, dict[str, dict[str, Any]]] = yaml.load(stream, Loader=yaml.CSafeLoader)
    return data


def placeholders(text: str) -> set[str]:
    """The ``{names}`` a message's text expects."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def render(name: str, language: str, **values: Any) -> dict[str, Any]:
    """One message, as ``CollectingDispatcher.utter_message`` keyword arguments.

    Args:
        name: The message's name in ``messages.yml``.
        language: ``fr`` or ``en``.
        **values: The values of its placeholders.

    Returns:
        ``{"text", "buttons", "metadata": {"language"}}``.

    Raises:
        KeyError: No such message, or a placeholder without a value.
    """
    message = catalogue()[name][language]
    return {
        "text": message["text"].format(**values),
        "buttons": [dict(button) for button in message.get("buttons", [])],
        "metadata": {"language": language},
    }
