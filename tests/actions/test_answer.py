"""The answer action, run as rasa-sdk runs it: a real tracker, dispatcher and searcher (and embedding model).

The decisions are also tested alone, on hand-built search results.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk.events import SlotSet

import actions.searcher
from actions.answer import (
    AMBIGUITY_MARGIN,
    MAX_CHOICES,
    ActionAnswerQuestion,
    Decision,
    choice_button,
    decide,
    decide_follow_up,
)
from actions.messages import catalogue
from knowledge_base.models import Entry, Localized
from knowledge_base.search import Hit, SearchResult
from tests.actions.helpers import Event, knowledge_base, localized, run, tracker

ENTRIES = knowledge_base()
PASSPORT = ENTRIES["passport"]
ID_CARD = ENTRIES["id-card"]


@pytest.fixture(scope="module", autouse=True)
def own_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The action's searcher builds and reads its index in a folder of this module's own; no imports."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GUICHET_KB_INDEX_DIR", str(tmp_path_factory.mktemp("index")))
        patch.setenv("GUICHET_KB_IMPORTED_DIR", str(tmp_path_factory.mktemp("imported")))
        patch.setattr(actions.searcher, "_searcher", None)
        yield


def answer(
    text: str, intent: str | None = "ask_procedure", **context: Any
) -> tuple[list[dict[str, Any]], list[Event]]:
    """Runs the answer action on the citizen's latest message; returns what the bot said (text, buttons,
    metadata) and the events."""
    messages, events = run(ActionAnswerQuestion(), tracker(text, intent, **context))
    said = [
        {"text": message["text"], "buttons": message["buttons"], "metadata": message.get("metadata")}
        for message in messages
    ]
    return said, events


def feedback_question(language: str) -> dict[str, Any]:
    """The question asked after every answer: did it help? (yes: ``/affirm``, no: ``/deny``)."""
    yes_no = {"fr": ("Oui, merci", "Non"), "en": ("Yes, thanks", "No")}[language]
    return {
        "text": catalogue()["ask_feedback"][language]["text"],
        "buttons": [{"title": yes_no[0], "payload": "/affirm"}, {"title": yes_no[1], "payload": "/deny"}],
        "metadata": {"language": language},
    }


def source(entry: Entry, language: str) -> dict[str, Any]:
    """The metadata of a message drawn from an entry."""
    version = localized(entry, language)
    return {"language": language, "source": {"slug": entry.slug, "title": version.title, "url": version.url}}


def whole_answer(entry: Entry, language: str) -> dict[str, Any]:
    """The message giving an entry's whole answer."""
    return {
        "text": localized(entry, language).answer.strip(),
        "buttons": [],
        "metadata": source(entry, language),
    }


def cost_of(entry: Entry, language: str) -> dict[str, Any]:
    """The message giving an entry's cost."""
    version = localized(entry, language)
    text = catalogue()["detail_cost"][language]["text"].format(title=version.title, cost=version.cost)
    return {"text": text, "buttons": [], "metadata": source(entry, language)}


def answered(slug: str) -> list[Event]:
    """The events of an answer from the entry ``slug``."""
    return [
        SlotSet("outcome", "answered"),
        SlotSet("procedure", slug),
        SlotSet("failures", 0.0),
        SlotSet("detail", None),
    ]


def unsure(failures: float) -> list[Event]:
    """The events of an unsure turn, the ``failures``-th in a row."""
    outcome = "unsure" if failures < 2 else "unsure_again"
    return [SlotSet("outcome", outcome), SlotSet("failures", failures), SlotSet("detail", None)]


def payload(slug: str) -> str:
    """The payload of the button choosing the entry ``slug``."""
    return '/ask_procedure{"procedure":"' + slug + '"}'


# --- questions ------------------------------------------------------------------------------------------


def test_an_english_question_is_answered_from_the_english_text_with_its_source() -> None:
    messages, events = answer("my passport expires soon, how do I get a new one?", slots={"language": "en"})
    assert messages == [whole_answer(PASSPORT, "en"), feedback_question("en")]
    assert messages[0]["metadata"]["source"] == {
        "slug": "passport",
        "title": "Applying for or renewing a passport",
        "url": "https://passeport.ants.gouv.fr",
    }
    assert events == answered("passport")


@pytest.mark.parametrize("intent", ["ask_procedure", "nlu_fallback"])
def test_a_french_question_is_answered_in_french(intent: str) -> None:
    messages, events = answer("à quelle heure ouvre la mairie le samedi", intent, slots={"failures": 1.0})
    assert messages == [whole_answer(ENTRIES["opening-hours"], "fr"), feedback_question("fr")]
    assert events == answered("opening-hours")


@pytest.mark.parametrize(
    ("text", "language"),
    [("give me a recipe for a chocolate cake", "en"), ("qui va gagner la coupe du monde de football", "fr")],
)
def test_an_out_of_scope_question_is_unsure_and_says_nothing(text: str, language: str) -> None:
    messages, events = answer(text, slots={"language": language})
    assert messages == []
    assert events == unsure(1.0)


@pytest.mark.parametrize(("failures", "expected"), [(1.0, 2.0), (2.0, 3.0)])
def test_another_unsure_turn_in_a_row_is_unsure_again(failures: float, expected: float) -> None:
    messages, events = answer(
        "give me a recipe for a chocolate cake", slots={"language": "en", "failures": failures}
    )
    assert messages == []
    assert events == unsure(expected)
    assert events[0] == SlotSet("outcome", "unsure_again")


def test_an_ambiguous_question_asks_which_procedure_with_a_button_each() -> None:
    messages, events = answer("acte de naissance ou de mariage")
    assert messages == [
        {
            "text": catalogue()["ask_which_one"]["fr"]["text"],
            "buttons": [
                {
                    "title": localized(ENTRIES["marriage-certificate"], "fr").title,
                    "payload": payload("marriage-certificate"),
                },
                {
                    "title": localized(ENTRIES["birth-certificate"], "fr").title,
                    "payload": payload("birth-certificate"),
                },
            ],
            "metadata": {"language": "fr"},
        }
    ]
    assert events == [SlotSet("outcome", "ambiguous"), SlotSet("detail", None)]


# --- follow-ups ----------------------------------------------------------------------------------------


def test_a_follow_up_answers_about_the_procedure_under_discussion() -> None:
    messages, events = answer(
        "how much does it cost?", "ask_cost", slots={"language": "en", "procedure": "passport"}
    )
    assert messages == [cost_of(PASSPORT, "en"), feedback_question("en")]
    assert messages[0]["text"] == (
        "**Applying for or renewing a passport** — cost: "
        "€86 (adult), €42 (15-17), €17 (under 15), paid with a tax stamp"
    )
    assert events == answered("passport")


def test_a_follow_up_about_documents_lists_them() -> None:
    messages, events = answer(
        "what documents do I need?", "ask_documents", slots={"language": "en", "procedure": "passport"}
    )
    assert messages[0]["text"].startswith(
        "**Applying for or renewing a passport** — documents to provide:\n- "
    )
    assert messages[0]["text"].count("\n- ") == len(localized(PASSPORT, "en").documents)
    assert messages[1:] == [feedback_question("en")]
    assert events == answered("passport")


def test_a_follow_up_about_a_detail_the_entry_lacks_says_so_then_answers() -> None:
    opening_hours = ENTRIES["opening-hours"]
    messages, events = answer("combien ça coûte ?", "ask_cost", slots={"procedure": "opening-hours"})
    title = localized(opening_hours, "fr").title
    assert messages == [
        {
            "text": catalogue()["detail_missing"]["fr"]["text"].format(title=title),
            "buttons": [],
            "metadata": source(opening_hours, "fr"),
        },
        whole_answer(opening_hours, "fr"),
        feedback_question("fr"),
    ]
    assert events == answered("opening-hours")


@pytest.mark.parametrize(
    ("text", "language"),
    [("and for an ID card, how much?", "en"), ("et pour une carte d'identité, combien ça coûte ?", "fr")],
)
def test_a_question_naming_another_procedure_leaves_the_one_under_discussion(
    text: str, language: str
) -> None:
    # the NLU classifies a question that names a procedure as ask_procedure, not as a follow-up
    messages, events = answer(text, "ask_procedure", slots={"language": language, "procedure": "passport"})
    assert messages == [whole_answer(ID_CARD, language), feedback_question(language)]
    assert events == answered("id-card")


@pytest.mark.parametrize(
    ("text", "language", "intent", "current"),
    [
        ("how much does it cost?", "en", "ask_cost", "id-card"),
        ("how much does it cost?", "en", "ask_cost", "birth-certificate"),
        ("quels papiers faut-il ?", "fr", "ask_documents", "id-card"),
    ],
)
def test_a_vague_follow_up_stays_on_any_procedure_under_discussion(
    text: str, language: str, intent: str, current: str
) -> None:
    _, events = answer(text, intent, slots={"language": language, "procedure": current})
    assert events == answered(current)


def test_a_follow_up_without_a_procedure_asks_which_one() -> None:
    messages, events = answer("combien ça coûte ?", "ask_cost")
    assert messages == []
    assert events == [SlotSet("outcome", "no_procedure"), SlotSet("detail", "cost")]


def test_an_english_follow_up_without_a_procedure_asks_which_one() -> None:
    messages, events = answer("how much does it cost?", "ask_cost", slots={"language": "en"})
    assert (messages, events) == ([], [SlotSet("outcome", "no_procedure"), SlotSet("detail", "cost")])


def test_naming_the_procedure_then_answers_the_detail_asked_before() -> None:
    messages, events = answer("le passeport", slots={"outcome": "no_procedure", "detail": "cost"})
    assert messages == [cost_of(PASSPORT, "fr"), feedback_question("fr")]
    assert events == answered("passport")


# --- buttons -----------------------------------------------------------------------------------------


def test_a_choice_button_answers_from_its_entry() -> None:
    messages, events = answer(
        payload("id-card"), entities={"procedure": "id-card"}, slots={"outcome": "ambiguous"}
    )
    assert messages == [whole_answer(ID_CARD, "fr"), feedback_question("fr")]
    assert events == answered("id-card")


def test_a_choice_button_after_a_follow_up_answers_the_detail_asked() -> None:
    messages, events = answer(
        payload("id-card"),
        entities={"procedure": "id-card"},
        slots={"language": "en", "outcome": "ambiguous", "detail": "cost", "procedure": "passport"},
    )
    assert messages == [cost_of(ID_CARD, "en"), feedback_question("en")]
    assert events == answered("id-card")


@pytest.mark.parametrize(
    ("text", "entities"),
    [
        (payload("no-such-procedure"), {"procedure": "no-such-procedure"}),
        ("/ask_procedure", None),
        ("   ", None),
    ],
)
def test_an_unknown_choice_or_an_empty_message_is_unsure(text: str, entities: dict[str, str] | None) -> None:
    messages, events = answer(text, entities=entities)
    assert messages == []
    assert events == unsure(1.0)


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_choice_button_asks_for_its_entry_by_slug(language: str) -> None:
    assert choice_button(ID_CARD, language) == {
        "title": localized(ID_CARD, language).title,
        "payload": '/ask_procedure{"procedure":"id-card"}',
    }


def test_a_choice_button_of_an_entry_in_the_other_language_has_its_title() -> None:
    french_only = Entry(
        slug="street-party", fr=Localized(title="Fête de quartier", questions=["fête"], answer="Oui.")
    )
    assert choice_button(french_only, "en") == {
        "title": "Fête de quartier",
        "payload": '/ask_procedure{"procedure":"street-party"}',
    }


# --- decisions, on hand-built search results ---------------------------------------------------------------


def hit(slug: str, score: float) -> Hit:
    return Hit(slug=slug, score=score, entry=ENTRIES[slug])


def test_a_result_not_answered_is_unsure() -> None:
    assert decide(SearchResult(answered=False, hits=[hit("passport", 0.9)])).outcome == "unsure"
    assert decide(SearchResult(answered=True, hits=[])).outcome == "unsure"


def test_a_clear_best_hit_is_answered() -> None:
    result = SearchResult(
        answered=True, hits=[hit("passport", 0.9), hit("id-card", 0.9 - AMBIGUITY_MARGIN - 0.005)]
    )
    decision = decide(result)
    assert (decision.outcome, decision.entry, decision.choices) == ("answered", PASSPORT, [])


@pytest.mark.parametrize(
    ("best", "second"),
    [(0.9, 0.9 - AMBIGUITY_MARGIN + 0.005), (0.9, 0.9), (AMBIGUITY_MARGIN, 0.0)],
    ids=["within the margin", "equal", "exactly the margin"],
)
def test_hits_as_close_as_the_ambiguity_margin_ask_which_one(best: float, second: float) -> None:
    result = SearchResult(answered=True, hits=[hit("passport", best), hit("id-card", second)])
    decision = decide(result)
    assert (decision.outcome, decision.entry, decision.choices) == ("ambiguous", None, [PASSPORT, ID_CARD])


def test_at_most_the_first_choices_are_offered_in_order() -> None:
    slugs = ["lost-id-documents", "id-card", "passport", "residence-permit", "driving-licence"]
    scores = [0.900, 0.895, 0.890, 0.885, 0.6]
    result = SearchResult(
        answered=True, hits=[hit(slug, score) for slug, score in zip(slugs, scores, strict=True)]
    )
    decision = decide(result)
    assert decision.outcome == "ambiguous"
    assert [entry.slug for entry in decision.choices] == slugs[:MAX_CHOICES]


def test_a_follow_up_is_about_the_procedure_under_discussion_or_asks_which() -> None:
    assert decide_follow_up(None) == Decision("no_procedure")
    assert decide_follow_up(PASSPORT) == Decision("answered", entry=PASSPORT)


def test_the_searcher_is_loaded_once_and_reused() -> None:
    first = actions.searcher.get_searcher()
    assert actions.searcher.get_searcher() is first
