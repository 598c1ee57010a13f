"""Lexical matching: text normalisation, BM25 over character n-grams, saving and loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from knowledge_base.lexical import MATRIX_FILE, VOCABULARY_FILE, LexicalIndex, normalize_text

DOCUMENTS = [
    "Passeport : demande ou renouvellement\nJ'ai perdu mon passeport\nPassport: apply or renew",
    "Carte d’identité : première demande\nComment obtenir une carte d'identité ?\nIdentity card",
    "Collecte des déchets\nQuand passe le camion poubelle ?\nWhen are the bins collected?",
    "Horaires de la mairie\nLa mairie est-elle ouverte le samedi ?\nTown hall opening hours",
]
PASSPORT, ID_CARD, WASTE, HOURS = range(len(DOCUMENTS))


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    """A lexical index of four short documents."""
    return LexicalIndex.build(DOCUMENTS, build_id="build-1")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Carte d’Identité", "carte d'identite"),
        ("ÉLÈVE À L'ÉCOLE", "eleve a l'ecole"),
        ("Ça coûte combien ?", "ca coute combien ?"),
        ("Straße", "strasse"),
        ("déjà vu", "deja vu"),
    ],
)
def test_normalize_text_casefolds_and_strips_accents(text: str, expected: str) -> None:
    assert normalize_text(text) == expected


@pytest.mark.parametrize(
    ("query", "best"),
    [
        ("pasport perdu", PASSPORT),
        ("carte didentite", ID_CARD),
        ("CARTE D'IDENTITE", ID_CARD),
        ("camion poubele", WASTE),
        ("horraires mairie", HOURS),
        ("pasport", PASSPORT),
    ],
)
def test_misspelt_or_unaccented_query_finds_the_right_document(
    index: LexicalIndex, query: str, best: int
) -> None:
    scores = index.scores(query)
    assert scores.shape == (len(DOCUMENTS),) and scores.dtype == np.float32
    assert int(np.argmax(scores)) == best
    assert scores[best] > 0.5
    others = np.delete(scores, best)
    assert float(others.max()) < 0.5 * float(scores[best])


def test_accents_case_and_apostrophes_do_not_change_scores(index: LexicalIndex) -> None:
    assert np.array_equal(index.scores("Carte d’identité"), index.scores("CARTE D'IDENTITE"))
    assert np.array_equal(index.scores("déchets"), index.scores("dechets"))


@pytest.mark.parametrize("query", ["xyzzy qwvk", "", "   ", "!!"])
def test_query_sharing_nothing_scores_zero(index: LexicalIndex, query: str) -> None:
    scores = index.scores(query)
    assert scores.shape == (len(DOCUMENTS),)
    assert not scores.any()


def test_unknown_ngrams_lower_the_share_of_the_query_found() -> None:
    """A query sharing one trigram with a document should not score like the document's own text."""
    index = LexicalIndex.build(["Registering a birth", "Lost property"])
    exact = float(index.scores("registering a birth")[0])
    one_trigram = float(index.scores("zzzz rexxx")[0])  # shares only " re" with the first document
    assert one_trigram < 0.5 * exact


def test_shorter_document_wins_for_the_same_match() -> None:
    """BM25 length normalisation: the same single match counts more in a short document."""
    index = LexicalIndex.build(["passeport", "passeport mairie horaires ouverture samedi dimanche lundi"])
    scores = index.scores("passeport")
    assert scores[0] > scores[1] > 0


def test_rarer_ngrams_weigh_more() -> None:
    """An n-gram found in every document (``mairie``) weighs less than one found in a single one."""
    index = LexicalIndex.build(["mairie passeport", "mairie horaires", "mairie cantine", "mairie ordures"])
    scores = index.scores("mairie passeport")
    assert int(np.argmax(scores)) == 0
    # Half of the query's letters, but only a small share of its weight.
    assert 0 < float(scores[1:].max()) < 0.2 * float(scores[0])


def test_no_documents() -> None:
    index = LexicalIndex.build([], build_id="empty")
    assert index.size == 0 and index.build_id == "empty"
    assert index.scores("passeport").shape == (0,)


def test_only_blank_documents() -> None:
    index = LexicalIndex.build(["", "  \n "])
    assert index.size == 2
    assert not index.scores("passeport").any()


def test_blank_document_among_others_scores_zero() -> None:
    index = LexicalIndex.build(["", "passeport"])
    scores = index.scores("passeport")
    assert scores[0] == 0 and scores[1] > 0


def test_save_then_load_gives_identical_scores(index: LexicalIndex, tmp_path: Path) -> None:
    written = index.save(tmp_path)
    assert written == {VOCABULARY_FILE: tmp_path / VOCABULARY_FILE, MATRIX_FILE: tmp_path / MATRIX_FILE}
    assert all(path.is_file() for path in written.values())

    loaded = LexicalIndex.load(tmp_path)
    assert loaded.build_id == "build-1"
    assert loaded.size == index.size == len(DOCUMENTS)
    assert np.array_equal(loaded.idf, index.idf)
    for query in ("pasport perdu", "carte didentite", "camion poubelle", "mairie samedi", "xyzzy"):
        assert np.array_equal(loaded.scores(query), index.scores(query))


def test_save_under_temporary_names(index: LexicalIndex, tmp_path: Path) -> None:
    written = index.save(tmp_path, suffix=".abc.tmp")
    assert set(written) == {VOCABULARY_FILE, MATRIX_FILE}
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        MATRIX_FILE + ".abc.tmp",
        VOCABULARY_FILE + ".abc.tmp",
    ]
    for name, path in written.items():
        path.replace(tmp_path / name)
    assert np.array_equal(LexicalIndex.load(tmp_path).scores("pasport"), index.scores("pasport"))


def test_save_then_load_an_empty_index(tmp_path: Path) -> None:
    LexicalIndex.build(["", " "], build_id="blank").save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)
    assert loaded.size == 2 and loaded.build_id == "blank"
    assert not loaded.scores("passeport").any()
