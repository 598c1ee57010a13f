"""Messages between the API and Rasa: bot replies in the Guichet shape, payloads with the language."""

from __future__ import annotations

import pytest

from bot.messages import normalise_message, payload_with_language


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ('/ask_procedure{"procedure":"x"}', "en", '/ask_procedure{"procedure":"x","language":"en"}'),
        ("/affirm", "fr", '/affirm{"language":"fr"}'),
        ('/request_human{"language":"en"}', "fr", '/request_human{"language":"en"}'),
        ("/affirm", None, "/affirm"),
        ("/affirm", "de", "/affirm"),
        ("comment faire un passeport", "fr", "comment faire un passeport"),
        ("/ask_procedure{broken", "fr", "/ask_procedure{broken"),
        ('/ask_procedure["x"]', "fr", '/ask_procedure["x"]'),
    ],
)
def test_a_payload_carries_the_conversation_s_language(
    text: str, language: str | None, expected: str
) -> None:
    assert payload_with_language(text, language) == expected


def test_a_bot_message_keeps_its_buttons_language_and_source() -> None:
    message = {
        "text": "Voici…",
        "buttons": [{"title": "Oui", "payload": "/affirm"}, "not a button"],
        "metadata": {"language": "fr", "source": {"slug": "passport", "title": "Passeport", "url": None}},
    }
    assert normalise_message(message) == {
        "text": "Voici…",
        "buttons": [{"title": "Oui", "payload": "/affirm"}],
        "language": "fr",
        "source": {"slug": "passport", "title": "Passeport", "url": None},
    }


def test_a_bot_message_without_metadata_has_no_language_nor_source() -> None:
    assert normalise_message({"text": None, "metadata": "junk"}) == {
        "text": "",
        "buttons": [],
        "language": None,
        "source": None,
    }
