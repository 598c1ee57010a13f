"""The answer action, run as rasa-sdk runs it: a real tracker, dispatcher and searcher."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

import actions.searcher
from actions.answer import OTHER_LANGUAGE_NOTICE, ActionAnswerQuestion, citizen_language, compose
from knowledge_base.config import DEFAULT_ENTRIES_DIR
from knowledge_base.models import Entry, Localized
from knowledge_base.store import load_entries

ENTRIES = {entry.slug: entry for entry in load_entries(DEFAULT_ENTRIES_DIR)}


@pytest.fixture(scope="module", autouse=True)
def own_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The action's searcher builds and reads its index in a folder of this module's own."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GUICHET_KB_INDEX_DIR", str(tmp_path_factory.mktemp("index")))
        patch.setattr(actions.searcher, "_searcher", None)
        yield


def tracker(text: str, language: str | None) -> Tracker:
    return Tracker(
        sender_id="test",
        slots={"language": language, "procedure": None},
        latest_message={"text": text, "intent": {"name": "ask_procedure", "confidence": 0.9}},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def run(text: str, language: str | None) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = asyncio.run(ActionAnswerQuestion().run(dispatcher, tracker(text, language), {}))
    return dispatcher.messages, events


def test_an_english_question_is_answered_from_the_english_text_with_its_source() -> None:
    messages, events = run("my passport expires soon, how do I get a new one?", "en")
    passport = ENTRIES["passport"]
    assert passport.en is not None
    assert len(messages) == 1
    assert messages[0]["text"] == passport.en.answer.strip()
    assert messages[0]["metadata"] == {
        "language": "en",
        "source": {"slug": "passport", "title": passport.en.title, "url": passport.en.url},
    }
    assert events == [SlotSet("procedure", "passport")]


def test_a_french_question_is_answered_in_french() -> None:
    messages, events = run("à quelle heure ouvre la mairie le samedi", "fr")
    opening_hours = ENTRIES["opening-hours"]
    assert opening_hours.fr is not None
    assert messages[0]["text"] == opening_hours.fr.answer.strip()
    assert messages[0]["metadata"]["language"] == "fr"
    assert events == [SlotSet("procedure", "opening-hours")]


@pytest.mark.parametrize(
    ("text", "language"),
    [("give me a recipe for a chocolate cake", "en"), ("qui va gagner la coupe du monde de football", "fr")],
)
def test_out_of_scope_questions_get_the_cannot_answer_response(text: str, language: str) -> None:
    messages, events = run(text, language)
    assert [message["response"] for message in messages] == ["utter_cannot_answer"]
    assert events == [SlotSet("procedure", None)]


def test_an_answer_that_exists_only_in_the_other_language_says_so() -> None:
    french_only = Entry(
        slug="street-party",
        fr=Localized(
            title="Organiser une fête de quartier",
            questions=["fête des voisins"],
            answer="Déclarez-la en mairie.",
        ),
    )
    text, source = compose(french_only, "en")
    assert text == f"{OTHER_LANGUAGE_NOTICE['en']}\n\nDéclarez-la en mairie."
    assert source == {"slug": "street-party", "title": "Organiser une fête de quartier", "url": None}
    same_language_text, _ = compose(french_only, "fr")
    assert same_language_text == "Déclarez-la en mairie."


@pytest.mark.parametrize(("slot", "expected"), [("en", "en"), ("fr", "fr"), (None, "fr"), ("de", "fr")])
def test_the_citizen_language_defaults_to_french(slot: str | None, expected: str) -> None:
    assert citizen_language(tracker("bonjour", slot)) == expected


def test_the_searcher_is_loaded_once_and_reused() -> None:
    first = actions.searcher.get_searcher()
    assert actions.searcher.get_searcher() is first
