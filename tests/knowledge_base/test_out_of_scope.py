"""Out-of-scope examples (reading, indexing, abstaining) and the rules of the hybrid score."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from knowledge_base.config import DEFAULT_ENTRIES_DIR, DEFAULT_OUT_OF_SCOPE_FILE, KnowledgeBaseSettings
from knowledge_base.index import OUT_OF_DATE, ensure_index, index_status, load_index
from knowledge_base.search import Searcher
from knowledge_base.store import InvalidEntriesError, load_entries, load_out_of_scope
from tests.knowledge_base.helpers import entry_data, settings_for

PARKING_SPOT = "where can I buy a parking spot in Paris"
EXAMPLES: dict[str, list[str]] = {
    "en": [PARKING_SPOT, "what's the weather like tomorrow"],
    "fr": ["où acheter une place de parking à Paris"],
}


def entry(
    slug: str, fr: list[str] | None = None, en: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    """An entry's data with the given title and questions (first text: title) per language."""
    data = entry_data(slug, fr=fr is not None, en=en is not None, **extra)
    for lang, texts in (("fr", fr), ("en", en)):
        if texts is not None:
            data[lang].update(title=texts[0], questions=texts[1:])
    return data


def write_yaml(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def write_parking_entries(folder: Path) -> Path:
    """Two commune entries: resident parking permits and the library card."""
    write_yaml(
        folder / "resident-parking.yml",
        entry(
            "resident-parking",
            fr=["Carte de stationnement résident", "Comment obtenir une carte de stationnement résident ?"],
            en=["Resident parking permit", "How do I get a resident parking permit?"],
        ),
    )
    write_yaml(
        folder / "library-card.yml",
        entry(
            "library-card",
            fr=["Carte de bibliothèque", "Comment s'inscrire à la bibliothèque ?"],
            en=["Library card", "How do I join the library?"],
        ),
    )
    return folder


PARKING_THRESHOLD = 0.45


@pytest.fixture(scope="module")
def parking_kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBaseSettings:
    """Settings of a two-entry knowledge base with three out-of-scope examples (index built once).

    The threshold is fixed (not the backend's calibrated one) so that these tests are about the examples only.
    """
    root = tmp_path_factory.mktemp("parking")
    settings = settings_for(
        write_parking_entries(root / "entries"),
        root / "index",
        out_of_scope_file=write_yaml(root / "examples.yml", EXAMPLES),
        threshold=PARKING_THRESHOLD,
    )
    ensure_index(settings)
    return settings


@pytest.fixture(scope="module")
def parking_searcher(parking_kb: KnowledgeBaseSettings) -> Searcher:
    return Searcher.load(parking_kb)


# --- reading the examples -------------------------------------------------------------------------


def test_missing_file_means_no_examples(tmp_path: Path) -> None:
    assert load_out_of_scope(tmp_path / "missing.yml") == []


@pytest.mark.parametrize("text", ["", "# only a comment\n", "{}\n", "fr: []\nen: []\n"])
def test_empty_file_means_no_examples(tmp_path: Path, text: str) -> None:
    path = tmp_path / "examples.yml"
    path.write_text(text, encoding="utf-8")
    assert load_out_of_scope(path) == []


def test_examples_in_file_order_with_spaces_normalised(tmp_path: Path) -> None:
    path = tmp_path / "examples.yml"
    path.write_text(
        "fr:\n- quel temps fait-il\n- '  donne-moi   une recette\n  de crêpes '\nen:\n- tell me a joke\n",
        encoding="utf-8",
    )
    assert load_out_of_scope(path) == [
        ("fr", "quel temps fait-il"),
        ("fr", "donne-moi une recette de crêpes"),
        ("en", "tell me a joke"),
    ]


@pytest.mark.parametrize(
    ("text", "field", "message"),
    [
        ("de:\n- wie spät ist es\n", "de", "unknown language; use fr, en"),
        ("fr: quel temps fait-il\n", "fr", "expected a list of non-empty questions"),
        ("en:\n- tell me a joke\n- ''\n", "en", "expected a list of non-empty questions"),
        ("fr:\n- 42\n", "fr", "expected a list of non-empty questions"),
        ("fr:\n", "fr", "expected a list of non-empty questions"),
        ("- quel temps fait-il\n", None, "expected a mapping of languages to questions"),
        ("fr: [\n", None, "YAML syntax error"),
    ],
)
def test_invalid_examples_file(tmp_path: Path, text: str, field: str | None, message: str) -> None:
    path = tmp_path / "examples.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InvalidEntriesError) as raised:
        load_out_of_scope(path)
    [problem] = raised.value.problems
    assert (problem.file, problem.field) == ("examples.yml", field)
    assert message in problem.message
    assert "examples.yml" in str(raised.value)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = write_yaml(tmp_path / "examples.yml", {"fr": ["ok"], "de": ["nein"], "en": "not a list", "es": []})
    with pytest.raises(InvalidEntriesError) as raised:
        load_out_of_scope(path)
    assert [problem.field for problem in raised.value.problems] == ["de", "en", "es"]


def test_shipped_examples() -> None:
    examples = load_out_of_scope(DEFAULT_OUT_OF_SCOPE_FILE)
    assert len(examples) >= 100
    assert {lang for lang, _ in examples} == {"fr", "en"}
    assert min(sum(lang == wanted for lang, _ in examples) for wanted in ("fr", "en")) >= 40
    assert len(set(examples)) == len(examples)
    # An example that is also an entry's question would make that question unanswerable.
    questions = {text.casefold() for entry in load_entries(DEFAULT_ENTRIES_DIR) for _, text in entry.texts()}
    assert not [text for _, text in examples if text.casefold() in questions]


def test_shipped_examples_are_never_answered(shipped_searcher: Searcher) -> None:
    for lang, text in load_out_of_scope(DEFAULT_OUT_OF_SCOPE_FILE):
        result = shipped_searcher.search(text, lang=lang)
        assert result.out_of_scope == pytest.approx(1.0, abs=1e-3), text
        assert not result.answered, text


# --- indexing the examples ------------------------------------------------------------------------


def test_the_index_holds_the_examples(parking_kb: KnowledgeBaseSettings) -> None:
    loaded = load_index(parking_kb.index_dir)
    expected = [(lang, text) for lang, texts in EXAMPLES.items() for text in texts]
    assert loaded.out_of_scope_texts == expected
    assert loaded.out_of_scope.ntotal == len(expected)
    assert loaded.index.ntotal == loaded.manifest.count == 8  # titles and questions only


def test_editing_the_examples_makes_the_index_out_of_date(tmp_path: Path) -> None:
    examples = write_yaml(tmp_path / "examples.yml", EXAMPLES)
    settings = settings_for(
        write_parking_entries(tmp_path / "entries"), tmp_path / "index", out_of_scope_file=examples
    )
    first = ensure_index(settings)
    assert index_status(settings) is None

    write_yaml(examples, {**EXAMPLES, "fr": [*EXAMPLES["fr"], "raconte-moi une blague"]})
    assert index_status(settings) == OUT_OF_DATE
    searcher = Searcher.load(settings)
    assert searcher.manifest.build_id != first.build_id
    assert ("fr", "raconte-moi une blague") in load_index(settings.index_dir).out_of_scope_texts
    assert index_status(settings) is None

    examples.write_text("de:\n- wie spät ist es\n", encoding="utf-8")
    status = index_status(settings)
    assert status is not None and status.startswith("entries invalid: 1 problem(s)")

    examples.unlink()
    assert index_status(settings) == OUT_OF_DATE
    Searcher.load(settings)
    assert load_index(settings.index_dir).out_of_scope.ntotal == 0


# --- abstaining -----------------------------------------------------------------------------------


def test_question_identical_to_an_example_is_not_answered(parking_searcher: Searcher, tmp_path: Path) -> None:
    result = parking_searcher.search(PARKING_SPOT, lang="en")
    assert result.best is not None and result.best.slug == "resident-parking"
    assert result.out_of_scope == pytest.approx(1.0, abs=1e-3)
    assert result.best.score >= parking_searcher.threshold  # only the example stops it
    assert not result.answered

    # The same knowledge base without examples answers it.
    settings = parking_searcher.settings
    without = Searcher.load(
        settings_for(
            settings.entries_dir,
            tmp_path / "index",
            out_of_scope_file=tmp_path / "none.yml",
            threshold=PARKING_THRESHOLD,
        )
    )
    unguarded = without.search(PARKING_SPOT, lang="en")
    assert unguarded.out_of_scope is None
    assert unguarded.best is not None and unguarded.best.slug == "resident-parking"
    assert unguarded.best.score == pytest.approx(result.best.score, abs=1e-5)
    assert unguarded.answered


@pytest.mark.parametrize(
    ("query", "lang", "slug"),
    [
        ("how can I get a parking permit as a resident", "en", "resident-parking"),
        ("comment avoir la vignette résident pour me garer", "fr", "resident-parking"),
        ("how do I get a library card", "en", "library-card"),
    ],
)
def test_genuine_questions_are_still_answered(
    parking_searcher: Searcher, query: str, lang: str, slug: str
) -> None:
    result = parking_searcher.search(query, lang=lang)
    assert result.best is not None and result.best.slug == slug
    assert isinstance(result.out_of_scope, float)
    assert result.best.score >= result.out_of_scope + parking_searcher.margin
    assert result.answered


@pytest.mark.parametrize("examples", [None, "", "fr: []\n"])
def test_no_out_of_scope_similarity_without_examples(tmp_path: Path, examples: str | None) -> None:
    path = tmp_path / "examples.yml"
    if examples is not None:
        path.write_text(examples, encoding="utf-8")
    settings = settings_for(
        write_parking_entries(tmp_path / "entries"), tmp_path / "index", out_of_scope_file=path
    )
    result = Searcher.load(settings).search("what's the weather like tomorrow")
    assert result.out_of_scope is None
    assert result.hits


def test_decide(parking_kb: KnowledgeBaseSettings) -> None:
    searcher = Searcher.load(parking_kb.model_copy(update={"threshold": 0.5, "out_of_scope_margin": 0.2}))
    assert (searcher.threshold, searcher.margin) == (0.5, 0.2)
    assert searcher.decide(0.5, None) and not searcher.decide(0.49, None)
    assert searcher.decide(0.9, 0.6) and not searcher.decide(0.7, 0.6)
    assert not searcher.decide(0.45, 0.0)  # under the threshold, whatever the examples
    assert not searcher.decide(math.nan, None) and not searcher.decide(math.inf, None)

    assert searcher.decide(0.45, None, threshold=0.4) and not searcher.decide(0.55, None, threshold=0.6)
    assert searcher.decide(0.7, 0.6, margin=0.05) and not searcher.decide(0.9, 0.6, margin=0.4)
    assert searcher.decide(0.7, 0.8, margin=-0.2)


def test_decide_uses_the_backends_threshold_and_margin_by_default(parking_kb: KnowledgeBaseSettings) -> None:
    searcher = Searcher.load(parking_kb.model_copy(update={"threshold": None}))
    assert searcher.settings.threshold is None and searcher.settings.out_of_scope_margin is None
    threshold = searcher.backend.default_threshold
    margin = searcher.backend.default_out_of_scope_margin
    assert (searcher.threshold, searcher.margin) == (threshold, margin)
    assert searcher.decide(threshold + 0.01, None)
    assert not searcher.decide(threshold - 0.01, None)
    assert searcher.decide(threshold + 0.2, threshold + 0.2 - margin - 0.01)
    assert not searcher.decide(threshold + 0.2, threshold + 0.2 - margin + 0.01)


def test_margin_from_the_settings(parking_kb: KnowledgeBaseSettings) -> None:
    """A larger margin turns away a question that the default one answers."""
    query = "how can I get a parking permit as a resident"
    default = Searcher.load(parking_kb).search(query, lang="en")
    assert default.answered and default.best is not None and default.out_of_scope is not None
    gap = default.best.score - default.out_of_scope
    strict = Searcher.load(parking_kb.model_copy(update={"out_of_scope_margin": gap + 0.01}))
    assert strict.margin == pytest.approx(gap + 0.01)
    assert not strict.search(query, lang="en").answered


# --- the hybrid score -----------------------------------------------------------------------------


PARKING_FR = ["Stationnement résidentiel", "Comment obtenir une carte de stationnement résident ?"]


def commune_and_imported(tmp_path: Path, **overrides: Any) -> Searcher:
    """A commune entry and an imported page with the same French texts."""
    entries = tmp_path / "entries"
    imported = tmp_path / "imported"
    write_yaml(entries / "street-parking.yml", entry("street-parking", fr=PARKING_FR))
    write_yaml(
        imported / "service-public" / "sp-f5555.yml",
        entry("sp-f5555", fr=PARKING_FR, origin="service-public"),
    )
    write_yaml(
        entries / "library-card.yml",
        entry("library-card", fr=["Carte de bibliothèque", "Emprunter des livres"]),
    )
    return Searcher.load(settings_for(entries, tmp_path / "index", imported_dir=imported, **overrides))


def test_commune_entry_comes_before_the_same_imported_page(tmp_path: Path) -> None:
    searcher = commune_and_imported(tmp_path)
    query = "carte de stationnement pour les résidents"
    first, second, _ = searcher.search(query, lang="fr").hits
    assert (first.slug, second.slug) == ("street-parking", "sp-f5555")
    assert (first.entry.origin, second.entry.origin) == ("commune", "service-public")
    assert first.dense == pytest.approx(second.dense, abs=1e-6)
    assert first.lexical == pytest.approx(second.lexical, abs=1e-6)
    assert first.score - second.score == pytest.approx(searcher.settings.commune_bonus, abs=1e-5)
    assert searcher.settings.commune_bonus == 0.05

    no_bonus = Searcher.load(searcher.settings.model_copy(update={"commune_bonus": 0.0}))
    hits = {hit.slug: hit for hit in no_bonus.search(query, lang="fr").hits}
    assert hits["street-parking"].score == pytest.approx(hits["sp-f5555"].score, abs=1e-6)
    assert hits["street-parking"].score == pytest.approx(first.score - 0.05, abs=1e-5)


def test_without_lexical_weight_the_score_is_the_cosine_similarity(tmp_path: Path) -> None:
    searcher = commune_and_imported(tmp_path, lexical_weight=0.0)
    result = searcher.search("carte de stationnement pour les résidents", lang="fr")
    assert len(result.hits) == 3
    for hit in result.hits:
        bonus = 0.05 if hit.entry.origin == "commune" else 0.0
        assert hit.lexical == 0.0
        assert hit.score == pytest.approx(hit.dense + bonus, abs=1e-6)

    weighted = Searcher.load(searcher.settings.model_copy(update={"lexical_weight": 0.2}))
    signals = weighted.signals("carte de stationnement pour les résidents", lang="fr")
    assert signals is not None and signals.lexical.max() > 0
    bonuses = weighted.settings.commune_bonus * signals.state.commune
    assert np.allclose(weighted.combine(signals, lexical_weight=0.0), signals.dense + bonuses, atol=1e-6)


def tax_searcher(tmp_path: Path) -> Searcher:
    """Income tax (written in English only), birth declaration (French only), lost property (both)."""
    entries = tmp_path / "entries"
    write_yaml(
        entries / "income-tax.yml",
        entry("income-tax", en=["Income tax return", "How do I file my tax return?"]),
    )
    write_yaml(
        entries / "birth-declaration.yml",
        entry("birth-declaration", fr=["Déclaration de naissance", "Déclarer la naissance de mon bébé"]),
    )
    write_yaml(
        entries / "lost-property.yml",
        entry(
            "lost-property",
            fr=["Objets trouvés", "J'ai perdu mes clés"],
            en=["Lost property", "I lost my keys"],
        ),
    )
    weights = {"lexical_weight": 0.2, "lexical_window": 0.15, "commune_bonus": 0.05}  # whatever the defaults
    return Searcher.load(settings_for(entries, tmp_path / "index", **weights))


def test_lexical_matching_counts_only_within_the_window(tmp_path: Path) -> None:
    """A shared word ("déclaration") cannot lift an entry above one that means the same in English."""
    searcher = tax_searcher(tmp_path)
    weight, window = searcher.settings.lexical_weight, searcher.settings.lexical_window
    assert (weight, window) == (0.2, 0.15)
    result = searcher.search("déclaration de revenus")
    assert [hit.slug for hit in result.hits] == ["income-tax", "birth-declaration", "lost-property"]
    best, birth, _ = result.hits
    assert birth.lexical > 3 * best.lexical  # it shares the words...
    assert birth.dense < best.dense - window  # ...but not the meaning
    assert birth.score == pytest.approx((1 - weight) * birth.dense + 0.05, abs=1e-6)
    assert best.score == pytest.approx((1 - weight) * best.dense + weight * best.lexical + 0.05, abs=1e-6)

    signals = searcher.signals("déclaration de revenus")
    assert signals is not None
    slugs = [entry.slug for entry in signals.state.loaded.entries]
    unbounded = searcher.combine(signals, lexical_window=2.0)
    birth_position = slugs.index("birth-declaration")
    assert unbounded[birth_position] > result.hits[1].score  # without the window, the shared word counts
    expected = (1 - weight) * signals.dense + weight * signals.lexical + 0.05
    assert np.allclose(unbounded, expected, atol=1e-6)


def test_entry_not_written_in_the_querys_language_is_scored_by_meaning_alone(tmp_path: Path) -> None:
    searcher = tax_searcher(tmp_path)
    query = "déclaration d'impôts"
    known = {hit.slug: hit for hit in searcher.search(query, lang="fr").hits}
    unknown = {hit.slug: hit for hit in searcher.search(query).hits}

    tax = known["income-tax"]
    assert tax.entry.fr is None and tax.lang == "en"
    assert tax.score == pytest.approx(tax.dense + 0.05, abs=1e-6)
    weight = searcher.settings.lexical_weight
    assert unknown["income-tax"].score == pytest.approx(
        (1 - weight) * tax.dense + weight * tax.lexical + 0.05, abs=1e-6
    )
    # Entries written in French are scored the same either way.
    for slug in ("birth-declaration", "lost-property"):
        assert known[slug].score == pytest.approx(unknown[slug].score, abs=1e-6)
    # Knowing the language lifts the English entry (its lexical score, from a French query, was noise).
    assert known["income-tax"].score > unknown["income-tax"].score


def test_french_only_entry_queried_in_english(tmp_path: Path) -> None:
    searcher = commune_and_imported(tmp_path)
    result = searcher.search("resident parking permit", lang="en")
    assert result.best is not None and result.best.slug == "street-parking"
    for hit in result.hits:
        bonus = 0.05 if hit.entry.origin == "commune" else 0.0
        assert hit.entry.en is None
        assert hit.score == pytest.approx(hit.dense + bonus, abs=1e-6)
