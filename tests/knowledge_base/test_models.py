from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from knowledge_base.models import NO_LANGUAGE_ERROR, Entry, Localized, is_http_url
from tests.knowledge_base.helpers import entry_data


def error_types(exc: ValidationError) -> dict[tuple[Any, ...], str]:
    return {tuple(error["loc"]): error["type"] for error in exc.errors()}


def test_valid_entry_parses_with_defaults() -> None:
    entry = Entry.model_validate(entry_data("passport"))
    assert entry.slug == "passport"
    assert entry.reviewed == date(2026, 11, 1)
    assert entry.origin == "commune"
    assert entry.en is not None and entry.en.documents == [] and entry.en.cost is None


def test_languages_lists_french_first() -> None:
    assert Entry.model_validate(entry_data("a")).languages() == ["fr", "en"]
    assert Entry.model_validate(entry_data("a", fr=False)).languages() == ["en"]
    assert Entry.model_validate(entry_data("a", en=False)).languages() == ["fr"]


def test_localized_returns_requested_language_or_the_other_one() -> None:
    both = Entry.model_validate(entry_data("a"))
    assert both.localized("en")[0] == "en"
    assert both.localized("fr")[1].title == "Titre a"
    french_only = Entry.model_validate(entry_data("a", en=False))
    lang, content = french_only.localized("en")
    assert (lang, content.title) == ("fr", "Titre a")
    assert Entry.model_validate(entry_data("a", fr=False)).localized("fr")[0] == "en"
    assert both.localized(None)[0] == "fr"
    assert both.localized("de")[0] == "fr"


def test_texts_are_titles_and_questions_per_language() -> None:
    entry = Entry.model_validate(entry_data("a"))
    assert entry.texts() == [
        ("fr", "Titre a"),
        ("fr", "Question sur a ?"),
        ("en", "Title a"),
        ("en", "Question about a?"),
    ]


@pytest.mark.parametrize(
    "slug", ["Passport", "pass--port", "-passport", "passport-", "pass port", "pässport", ""]
)
def test_bad_slugs_are_rejected(slug: str) -> None:
    with pytest.raises(ValidationError) as info:
        Entry.model_validate(entry_data(slug))
    assert ("slug",) in error_types(info.value)


@pytest.mark.parametrize("slug", ["passport", "id-card", "a", "b2-c3"])
def test_good_slugs_are_accepted(slug: str) -> None:
    assert Entry.model_validate(entry_data(slug)).slug == slug


def test_entry_needs_at_least_one_language() -> None:
    with pytest.raises(ValidationError) as info:
        Entry.model_validate(entry_data("a", fr=False, en=False))
    assert NO_LANGUAGE_ERROR in error_types(info.value).values()


@pytest.mark.parametrize(
    "url", ["ftp://example.fr", "passeport.ants.gouv.fr", "https://", "https:/ants.gouv.fr", "https://a b.fr"]
)
def test_url_must_be_http(url: str) -> None:
    data = entry_data("a")
    data["fr"]["url"] = url
    with pytest.raises(ValidationError) as info:
        Entry.model_validate(data)
    assert ("fr", "url") in error_types(info.value)


def test_http_url_helper() -> None:
    assert is_http_url("https://passeport.ants.gouv.fr")
    assert is_http_url("http://localhost:8000/x")
    assert not is_http_url("mailto:contact@mairie-clairval.fr")


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        ({"questions": []}, ("fr", "questions")),
        ({"questions": ["ok", ""]}, ("fr", "questions", 1)),
        ({"questions": ["Même question", "même question"]}, ("fr", "questions")),
        ({"title": "  "}, ("fr", "title")),
        ({"answer": None}, ("fr", "answer")),
        ({"questons": ["typo"]}, ("fr", "questons")),
        ({"documents": "one string"}, ("fr", "documents")),
    ],
)
def test_localized_field_errors_are_located(change: dict[str, Any], loc: tuple[Any, ...]) -> None:
    data = entry_data("a")
    data["fr"].update(change)
    with pytest.raises(ValidationError) as info:
        Entry.model_validate(data)
    assert loc in error_types(info.value)


def test_blank_optional_fields_become_none() -> None:
    content = Localized(title="t", questions=["q"], answer="a", cost="  ", url="")
    assert content.cost is None and content.url is None


def test_origin_tells_imported_entries_apart() -> None:
    entry = Entry.model_validate(entry_data("a", en=False, origin="service-public"))
    assert entry.origin == "service-public"
