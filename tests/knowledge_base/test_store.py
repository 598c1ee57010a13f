from __future__ import annotations

import re
from pathlib import Path

import pytest

from knowledge_base.config import DEFAULT_ENTRIES_DIR, REPO_ROOT
from knowledge_base.models import Entry
from knowledge_base.store import (
    InvalidEntriesError,
    Problem,
    entries_fingerprint,
    load_entries,
    sources_fingerprint,
    validate_entries,
)
from tests.knowledge_base.conftest import WriteEntry
from tests.knowledge_base.helpers import entry_data

#: The slugs of ../shared/PROCEDURES.md (a public contract: answers and quality checks name them).
REQUIRED_SLUGS = set(
    [
        "passport",
        "id-card",
        "lost-id-documents",
        "birth-certificate",
        "marriage-certificate",
        "death-certificate",
        "birth-declaration",
        "death-declaration",
        "marriage",
        "pacs",
        "signature-legalisation",
        "citizenship-census",
        "voter-registration",
        "proxy-voting",
        "change-of-address",
        "building-permit",
        "prior-declaration",
        "planning-certificate",
        "social-housing",
        "public-space-permit",
        "waste-collection",
        "bulky-waste",
        "recycling-centre",
        "noise-complaint",
        "report-street-issue",
        "lost-and-found",
        "cemetery-plot",
        "resident-parking",
        "parking-fine",
        "driving-licence",
        "vehicle-registration",
        "school-enrolment",
        "school-canteen",
        "daycare",
        "family-allowance",
        "social-assistance",
        "unemployment-registration",
        "library-card",
        "room-rental",
        "sports-facilities",
        "income-tax-return",
        "property-tax",
        "online-payment",
        "residence-permit",
        "opening-hours",
        "appointment-booking",
    ]
)


def only(problems: list[Problem], file: str) -> list[tuple[str | None, str]]:
    return [(problem.field, problem.message) for problem in problems if problem.file == file]


# --- the shipped entries --------------------------------------------------------------------------


def test_every_shipped_entry_validates() -> None:
    assert validate_entries(DEFAULT_ENTRIES_DIR) == []


def test_shipped_entries_cover_the_required_slugs_in_both_languages() -> None:
    entries = load_entries(DEFAULT_ENTRIES_DIR)
    assert {entry.slug for entry in entries} >= REQUIRED_SLUGS
    for entry in entries:
        assert entry.languages() == ["fr", "en"], entry.slug
        assert entry.reviewed is not None, entry.slug
        for lang in ("fr", "en"):
            _, content = entry.localized(lang)
            assert 6 <= len(content.questions) <= 15, (entry.slug, lang)


def test_shipped_entries_share_the_communes_contact_details() -> None:
    """Local details are invented once, in the commune's facts sheet, and reused everywhere."""
    text = "\n".join(path.read_text(encoding="utf-8") for path in sorted(DEFAULT_ENTRIES_DIR.glob("*.yml")))
    sheet = (REPO_ROOT / "docs" / "demo-commune.md").read_text(encoding="utf-8")
    phones = set(re.findall(r"\b02 38(?: \d\d){3}\b", text))
    assert "02 38 00 00 00" in phones and phones <= set(re.findall(r"\b02 38(?: \d\d){3}\b", sheet))
    mails = set(re.findall(r"[\w.-]+@mairie-clairval\.fr", text))
    assert "contact@mairie-clairval.fr" in mails and mails <= set(
        re.findall(r"[\w.-]+@mairie-clairval\.fr", sheet)
    )
    assert set(re.findall(r"\b\d{5} Clairval\b", text)) == {"45120 Clairval"}
    local_links = set(re.findall(r"https://www\.mairie-clairval\.fr[\w/-]*", text))
    assert local_links <= set(re.findall(r"https://www\.mairie-clairval\.fr[\w/-]*", sheet))
    hours = (DEFAULT_ENTRIES_DIR / "opening-hours.yml").read_text(encoding="utf-8")
    for fact in (
        "8 h 30 – 12 h",
        "13 h 30 – 17 h 30",
        "9 h – 12 h",
        "8:30–12:00",
        "13:30–17:30",
        "9:00–12:00",
    ):
        assert fact in hours


def test_shipped_national_facts() -> None:
    passport = (DEFAULT_ENTRIES_DIR / "passport.yml").read_text(encoding="utf-8")
    for fact in ("86 €", "42 €", "17 €", "€86", "€42", "€17", "https://passeport.ants.gouv.fr", "10 ans"):
        assert fact in passport
    id_card = (DEFAULT_ENTRIES_DIR / "id-card.yml").read_text(encoding="utf-8")
    assert "25 €" in id_card and "€25" in id_card and "gratuit" in id_card.lower()
    voting = (DEFAULT_ENTRIES_DIR / "voter-registration.yml").read_text(encoding="utf-8")
    assert "6e vendredi" in voting and "6th Friday" in voting and "ISE" in voting


# --- validation of broken files -------------------------------------------------------------------


def test_yaml_syntax_error_names_the_file_and_line(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry(text="slug: broken\nfr:\n  title: [unclosed\n", name="broken.yml")
    problems = validate_entries(entries_dir)
    assert len(problems) == 1
    assert problems[0].file == "broken.yml" and problems[0].field is None
    assert "YAML syntax error" in problems[0].message and "line" in problems[0].message


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just text\n"])
def test_file_that_is_not_a_mapping(entries_dir: Path, write_entry: WriteEntry, text: str) -> None:
    write_entry(text=text, name="odd.yml")
    [(field, message)] = only(validate_entries(entries_dir), "odd.yml")
    assert field is None and "expected a mapping" in message


def test_schema_errors_name_the_field(entries_dir: Path, write_entry: WriteEntry) -> None:
    data = entry_data("schema")
    del data["fr"]["answer"]
    data["en"]["questions"] = "not a list"
    data["en"]["questons"] = ["typo"]
    write_entry(data)
    problems = only(validate_entries(entries_dir), "schema.yml")
    fields = {field for field, _ in problems}
    assert {"fr.answer", "en.questions", "en.questons"} <= fields
    assert any(field == "en.questons" and "unknown field" in message for field, message in problems)
    assert all(str(problem).startswith("schema.yml: ") for problem in validate_entries(entries_dir))


def test_slug_must_match_file_name(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry(entry_data("passport"), name="passeport.yml")
    [(field, message)] = only(validate_entries(entries_dir), "passeport.yml")
    assert field == "slug" and "does not match the file name" in message


def test_duplicate_slugs_are_reported_on_each_file(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry(entry_data("twin"), name="twin.yml")
    write_entry(entry_data("twin"), name="twin.yaml")
    problems = validate_entries(entries_dir)
    assert {(p.file, p.field) for p in problems if "duplicate slug" in p.message} == {
        ("twin.yml", "slug"),
        ("twin.yaml", "slug"),
    }


def test_entry_with_no_language(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry(entry_data("empty", fr=False, en=False))
    [(field, message)] = only(validate_entries(entries_dir), "empty.yml")
    assert field == "fr, en" and "no language" in message


def test_commune_entry_missing_one_language(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry(entry_data("half", en=False))
    [(field, message)] = only(validate_entries(entries_dir), "half.yml")
    assert field == "en" and "French and English" in message


def test_imported_entries_may_be_french_only(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry(entry_data("imported", en=False, origin="service-public"))
    assert validate_entries(entries_dir) == []


def test_malformed_url_field(entries_dir: Path, write_entry: WriteEntry) -> None:
    data = entry_data("links")
    data["fr"]["url"] = "www.service-public.fr"
    write_entry(data)
    assert only(validate_entries(entries_dir), "links.yml") == [
        ("fr.url", "not a well-formed http(s) link: 'www.service-public.fr'")
    ]


def test_malformed_links_in_text_fields(entries_dir: Path, write_entry: WriteEntry) -> None:
    data = entry_data("links")
    data["en"]["answer"] = (
        "See [the form](htps//ants.gouv.fr), or https:/ants.gouv.fr, or https://ants.gouv.fr."
    )
    data["en"]["documents"] = ["Form at https://nowhere"]
    write_entry(data)
    problems = only(validate_entries(entries_dir), "links.yml")
    answer_messages = [message for field, message in problems if field == "en.answer"]
    assert len(answer_messages) == 2
    assert any("htps//ants.gouv.fr" in message for message in answer_messages)
    assert any("https:/ants.gouv.fr" in message for message in answer_messages)
    assert [field for field, _ in problems if field != "en.answer"] == ["en.documents"]


def test_good_links_pass(entries_dir: Path, write_entry: WriteEntry) -> None:
    data = entry_data("links")
    data["en"]["answer"] = (
        "Online (https://passeport.ants.gouv.fr), [the form](https://ants.gouv.fr/x?a=1), "
        "[mail](mailto:contact@mairie-clairval.fr) or https://www.service-public.fr."
    )
    write_entry(data)
    assert validate_entries(entries_dir) == []


def test_same_question_in_two_entries(entries_dir: Path, write_entry: WriteEntry) -> None:
    first, second = entry_data("first"), entry_data("second")
    second["en"]["questions"] = ["Something else?", "question about FIRST?"]
    write_entry(first)
    write_entry(second)
    assert only(validate_entries(entries_dir), "second.yml") == [
        ("en.questions[1]", "same question as entry 'first'")
    ]


def test_missing_or_empty_folder(tmp_path: Path, entries_dir: Path) -> None:
    assert "not found" in validate_entries(tmp_path / "nope")[0].message
    assert "no entry files" in validate_entries(entries_dir)[0].message


# --- loading --------------------------------------------------------------------------------------


def test_load_entries_sorted_by_slug(entries_dir: Path, write_entry: WriteEntry) -> None:
    for slug in ("zeta", "alpha", "mid"):
        write_entry(entry_data(slug))
    write_entry(entry_data("french-only", en=False))
    assert [entry.slug for entry in load_entries(entries_dir)] == ["alpha", "french-only", "mid", "zeta"]


def test_load_entries_raises_a_clear_error(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry(entry_data("fine"))
    write_entry(text="slug: [\n", name="bad.yml")
    with pytest.raises(InvalidEntriesError) as info:
        load_entries(entries_dir)
    assert [problem.file for problem in info.value.problems] == ["bad.yml"]
    assert "bad.yml" in str(info.value)


def test_load_entries_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        load_entries(tmp_path / "nope")


# --- fingerprints ---------------------------------------------------------------------------------


def test_fingerprint_ignores_order_and_follows_content() -> None:
    a, b = Entry.model_validate(entry_data("a")), Entry.model_validate(entry_data("b"))
    assert entries_fingerprint([a, b]) == entries_fingerprint([b, a])
    changed = Entry.model_validate(entry_data("b", category="other"))
    assert entries_fingerprint([a, changed]) != entries_fingerprint([a, b])
    assert re.fullmatch(r"[0-9a-f]{64}", entries_fingerprint([a]))


def test_sources_fingerprint_follows_file_changes(entries_dir: Path, write_entry: WriteEntry) -> None:
    write_entry(entry_data("a"))
    first = sources_fingerprint([entries_dir])
    assert sources_fingerprint([entries_dir]) == first == entries_fingerprint(load_entries(entries_dir))
    write_entry(entry_data("a", category="changed"))
    assert sources_fingerprint([entries_dir]) != first
