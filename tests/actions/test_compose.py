"""Composing answers from knowledge-base entries: the whole answer, one detail, the other-language notice."""

from __future__ import annotations

import pytest

from actions.compose import OTHER_LANGUAGE_NOTICE, answer_messages, compose, detail_value, source_of
from actions.messages import render
from knowledge_base.models import Entry, Localized
from tests.actions.helpers import knowledge_base, localized

ENTRIES = knowledge_base()
PASSPORT = ENTRIES["passport"]

STREET_PARTY = Entry(
    slug="street-party",
    fr=Localized(
        title="Organiser une fête de quartier",
        questions=["fête des voisins"],
        answer="Déclarez-la en mairie.\n",
        cost="Gratuit",
        where="Accueil de la mairie",
    ),
)
LIBRARY_EVENT = Entry(
    slug="library-event",
    en=Localized(
        title="Booking a library event",
        questions=["library event"],
        answer="Book it online.",
        url="https://library.example.org/events",
    ),
)


@pytest.mark.parametrize("language", ["fr", "en"])
@pytest.mark.parametrize("detail", ["cost", "delay", "where"])
def test_a_detail_is_the_entry_s_own_text(detail: str, language: str) -> None:
    version = localized(PASSPORT, language)
    assert detail_value(version, detail) == getattr(version, detail)


def test_the_documents_are_a_markdown_list() -> None:
    assert detail_value(localized(PASSPORT, "en"), "documents") == (
        "- ANTS pre-application number (or a form filled in at the town hall)\n"
        "- ID photo less than 6 months old, meeting the official standards\n"
        "- Proof of address less than one year old\n"
        "- Tax stamp (timbre fiscal)\n"
        "- Old passport, or a declaration of loss or theft\n"
        "- For a minor: ID of the parent who comes along"
    )


def test_where_falls_back_on_the_entry_s_link() -> None:
    assert detail_value(localized(LIBRARY_EVENT, "en"), "where") == "https://library.example.org/events"
    assert detail_value(localized(STREET_PARTY, "fr"), "where") == "Accueil de la mairie"


@pytest.mark.parametrize(
    ("entry", "language", "detail"),
    [
        (ENTRIES["opening-hours"], "fr", "cost"),
        (ENTRIES["opening-hours"], "en", "documents"),
        (ENTRIES["waste-collection"], "fr", "delay"),
        (STREET_PARTY, "fr", "documents"),
        (STREET_PARTY, "fr", "delay"),
    ],
)
def test_a_detail_the_entry_lacks_is_none(entry: Entry, language: str, detail: str) -> None:
    assert detail_value(localized(entry, language), detail) is None


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_whole_answer_is_the_entry_s_answer_with_its_source(language: str) -> None:
    version = localized(PASSPORT, language)
    [message] = answer_messages(PASSPORT, language)
    assert message == {
        "text": version.answer.strip(),
        "metadata": {
            "language": language,
            "source": {"slug": "passport", "title": version.title, "url": "https://passeport.ants.gouv.fr"},
        },
    }


@pytest.mark.parametrize("detail", ["cost", "documents", "delay", "where"])
def test_a_known_detail_is_stated_alone(detail: str) -> None:
    version = localized(PASSPORT, "en")
    expected_value = detail_value(version, detail)
    [message] = answer_messages(PASSPORT, "en", detail)
    assert message == {
        **render(f"detail_{detail}", "en", title=version.title, **{detail: expected_value}),
        "metadata": {"language": "en", "source": source_of(PASSPORT, version)},
    }


def test_the_cost_reads_naturally() -> None:
    [message] = answer_messages(PASSPORT, "fr", "cost")
    assert message["text"] == (
        "**Demander ou renouveler un passeport** — coût : "
        "86 € (adulte), 42 € (15-17 ans), 17 € (moins de 15 ans), en timbre fiscal"
    )


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_missing_detail_is_said_so_before_the_whole_answer(language: str) -> None:
    opening_hours = ENTRIES["opening-hours"]
    version = localized(opening_hours, language)
    metadata = {"language": language, "source": source_of(opening_hours, version)}
    assert answer_messages(opening_hours, language, "cost") == [
        {**render("detail_missing", language, title=version.title), "metadata": metadata},
        {"text": version.answer.strip(), "metadata": metadata},
    ]


@pytest.mark.parametrize("detail", [None, "title", "price"])
def test_no_detail_or_an_unknown_one_gives_the_whole_answer(detail: str | None) -> None:
    assert answer_messages(PASSPORT, "fr", detail) == answer_messages(PASSPORT, "fr")


def test_an_answer_only_in_french_says_so_in_english() -> None:
    text, source = compose(STREET_PARTY, "en")
    assert text == f"{OTHER_LANGUAGE_NOTICE['en']}\n\nDéclarez-la en mairie."
    assert source == {"slug": "street-party", "title": "Organiser une fête de quartier", "url": None}
    assert compose(STREET_PARTY, "fr") == ("Déclarez-la en mairie.", source)


def test_an_answer_only_in_english_says_so_in_french() -> None:
    text, source = compose(LIBRARY_EVENT, "fr")
    assert text == "Cette information n'est disponible qu'en anglais :\n\nBook it online."
    assert source["title"] == "Booking a library event"


def test_the_messages_of_an_answer_in_the_other_language_are_marked_with_the_citizen_s_language() -> None:
    [message] = answer_messages(STREET_PARTY, "en")
    assert message["text"].startswith(OTHER_LANGUAGE_NOTICE["en"])
    assert message["metadata"]["language"] == "en"
    [cost] = answer_messages(STREET_PARTY, "en", "cost")
    assert cost["text"] == (
        "This information is only available in French:\n\n**Organiser une fête de quartier** — cost: Gratuit"
    )
    assert cost["metadata"]["language"] == "en"
