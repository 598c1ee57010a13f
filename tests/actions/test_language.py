"""Switching the conversation's language when the citizen asks for it."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet

from actions.language import ActionChangeLanguage, requested_language
from tests.actions.helpers import run, tracker


@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [
        ("can we speak English?", "fr", "en"),
        ("can we speak English?", "en", "en"),
        ("parlez-vous anglais", "fr", "en"),
        ("Vous parlez ANGLAIS ?", "fr", "en"),
        ("en français svp", "en", "fr"),
        ("en francais svp", "en", "fr"),
        ("do you speak French", "en", "fr"),
        ("do you speak French", "fr", "fr"),
    ],
)
def test_the_language_the_message_names_is_chosen(text: str, current: str, expected: str) -> None:
    assert requested_language(text, current) == expected


@pytest.mark.parametrize(("current", "expected"), [("fr", "en"), ("en", "fr")])
@pytest.mark.parametrize(
    "text", ["another language please", "on peut changer de langue ?", "english or french?"]
)
def test_a_message_naming_no_single_language_switches_to_the_other_one(
    text: str, current: str, expected: str
) -> None:
    assert requested_language(text, current) == expected


@pytest.mark.parametrize(
    ("text", "current", "expected"),
    [("sorry, I don't speak French", "fr", "en"), ("je ne parle pas anglais", "en", "fr")],
)
def test_a_citizen_who_does_not_speak_a_language_gets_the_other(
    text: str, current: str, expected: str
) -> None:
    assert requested_language(text, current) == expected


def test_the_action_sets_the_language_slot() -> None:
    _, events = run(ActionChangeLanguage(), tracker("can we speak English?", "change_language"))
    assert events == [SlotSet("language", "en")]


def test_the_action_says_nothing_itself() -> None:
    messages, _ = run(
        ActionChangeLanguage(), tracker("en français svp", "change_language", slots={"language": "en"})
    )
    assert messages == []


@pytest.mark.parametrize(
    ("slot", "metadata", "expected"),
    [
        # The message's own detected language already set the slot to English: the API's hint says the
        # conversation was in French, so "switch" means English.
        pytest.param("en", {"language": "fr"}, "en", id="previous language from the metadata"),
        pytest.param("fr", {"language": "en"}, "fr", id="previous language from the metadata, reversed"),
        pytest.param("en", {}, "fr", id="no hint: the slot is the previous language"),
        pytest.param("en", {"language": "de"}, "fr", id="an unknown hint is ignored"),
    ],
)
def test_a_message_naming_no_language_switches_from_the_previous_language(
    slot: str, metadata: dict[str, str], expected: str
) -> None:
    asked = tracker("switch language please", "change_language", slots={"language": slot}, metadata=metadata)
    _, events = run(ActionChangeLanguage(), asked)
    assert events == [SlotSet("language", expected)]
