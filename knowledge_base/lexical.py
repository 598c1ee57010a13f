"""Lexical matching: BM25 over the character n-grams of the entries' texts.

Character n-grams (3 to 5 letters, inside word boundaries, lowercased, accents removed) match the words a
citizen types even when misspelt, unaccented or inflected ("pasport", "carte didentite", "inscription"), in
both languages, with no stemmer or dictionary. Scores are normalised by the query's own weight, so that they
read as "the share of the query found in the entry" (about 0 to 1) and mix with cosine similarities.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]
from sklearn.feature_extraction.text import CountVectorizer  # type: ignore[import-untyped]

#: BM25 parameters: term-frequency saturation and length normalisation.
K1 = 1.2
B = 0.75
#: Character n-gram sizes.
NGRAM_RANGE = (3, 5)

VOCABULARY_FILE = "lexical-vocabulary.json"
MATRIX_FILE = "lexical-matrix.npz"

Scores = npt.NDArray[np.float32]


def normalize_text(text: str) -> str:
    """Lowercase a text and strip its accents and apostrophes' variants, for n-gram matching.

    Args:
        text: Any text.

    Returns:
        The text in lowercase ASCII-like form (``"Carte d’identité"`` -> ``"carte d'identite"``).
    """
    decomposed = unicodedata.normalize("NFKD", text.casefold().replace("’", "'"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _vectorizer(vocabulary: dict[str, int] | None = None) -> CountVectorizer:
    return CountVectorizer(
        analyzer="char_wb",
        ngram_range=NGRAM_RANGE,
        preprocessor=normalize_text,
        vocabulary=vocabulary,
        dtype=np.float32,
    )


class LexicalIndex:
    """BM25 weights of each document's character n-grams.

    Build one with :meth:`build`, save it with :meth:`save` and read it back with :meth:`load`.

    Args:
        vocabulary: n-gram -> column.
        weights: ``(documents, n-grams)`` matrix of BM25 term weights (idf included), stored by column (CSC)
            so that a query reads only the columns of its own n-grams.
        idf: Inverse document frequency of each n-gram.
        build_id: Identifier of the index build it belongs to (saved with it).
    """

    def __init__(
        self, vocabulary: dict[str, int], weights: sparse.spmatrix, idf: Scores, build_id: str = ""
    ) -> None:
        self.build_id = build_id
        self._vectorizer = _vectorizer(vocabulary)
        self._analyze = self._vectorizer.build_analyzer()
        self.weights = sparse.csc_matrix(weights, dtype=np.float32)
        self.idf = idf
        # An n-gram no document has weighs as much as the rarest possible one.
        self._unseen_idf = float(np.log1p((self.size + 0.5) / 0.5))

    @property
    def size(self) -> int:
        """Number of documents."""
        return int(self.weights.shape[0])

    @classmethod
    def build(cls, documents: Sequence[str], build_id: str = "") -> LexicalIndex:
        """Compute the BM25 weights of documents.

        Args:
            documents: One text per document.
            build_id: Identifier of the index build it belongs to.

        Returns:
            The index.
        """
        if not documents or not any(doc.strip() for doc in documents):
            empty = sparse.csc_matrix((len(documents), 0), dtype=np.float32)
            return cls({}, empty, np.zeros(0, np.float32), build_id)
        vectorizer = _vectorizer()
        counts = sparse.csr_matrix(vectorizer.fit_transform(documents), dtype=np.float32)
        n_docs = counts.shape[0]
        df = np.bincount(counts.indices, minlength=counts.shape[1]).astype(np.float32)
        idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
        lengths = np.asarray(counts.sum(axis=1)).ravel()
        average = float(lengths.mean()) or 1.0
        norms = K1 * (1 - B + B * lengths / average)
        tf = counts.data
        row_of = np.repeat(np.arange(n_docs), np.diff(counts.indptr))
        data = tf * (K1 + 1) / (tf + norms[row_of]) * idf[counts.indices]
        weights = sparse.csr_matrix(
            (data.astype(np.float32), counts.indices, counts.indptr), shape=counts.shape
        )
        vocabulary = {str(term): int(column) for term, column in vectorizer.vocabulary_.items()}
        return cls(vocabulary, weights, idf, build_id)

    def scores(self, query: str) -> Scores:
        """Score every document against a query.

        Args:
            query: The query text.

        Returns:
            One score per document: the BM25 score divided by the query's total idf (every distinct n-gram of
            the query, those no document has counting as the rarest), so 0 means nothing in common and about
            1 means every n-gram matched once.
        """
        if self.idf.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        grams = set(self._analyze(query))
        vocabulary = self._vectorizer.vocabulary
        columns = np.fromiter((vocabulary[gram] for gram in grams if gram in vocabulary), dtype=np.int64)
        if columns.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        total_idf = float(self.idf[columns].sum()) + (len(grams) - columns.size) * self._unseen_idf
        selected = self.weights[:, columns]  # cheap for a CSC matrix: only these columns are read
        scores = np.bincount(selected.indices, weights=selected.data, minlength=self.size)
        return (scores / total_idf).astype(np.float32)

    def save(self, directory: Path, suffix: str = "") -> dict[str, Path]:
        """Write the index as two files (vocabulary as JSON, weights and idf as ``.npz``).

        Args:
            directory: Folder to write into.
            suffix: Appended to the file names (for writing under temporary names).

        Returns:
            Final file name -> path written.
        """
        vocabulary_path = Path(directory) / (VOCABULARY_FILE + suffix)
        matrix_path = Path(directory) / (MATRIX_FILE + suffix)
        vocabulary = self._vectorizer.vocabulary or {}
        vocabulary_path.write_text(json.dumps(vocabulary, ensure_ascii=False), encoding="utf-8")
        with matrix_path.open("wb") as handle:
            np.savez(
                handle,
                data=self.weights.data,
                indices=self.weights.indices,
                indptr=self.weights.indptr,
                shape=np.asarray(self.weights.shape),
                idf=self.idf,
                build_id=np.asarray(self.build_id),
            )
        return {VOCABULARY_FILE: vocabulary_path, MATRIX_FILE: matrix_path}

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Read an index written by :meth:`save`.

        Args:
            directory: The folder.

        Returns:
            The index.
        """
        vocabulary = json.loads((Path(directory) / VOCABULARY_FILE).read_text(encoding="utf-8"))
        with np.load(Path(directory) / MATRIX_FILE) as arrays:
            weights = sparse.csc_matrix(
                (arrays["data"], arrays["indices"], arrays["indptr"]), shape=tuple(arrays["shape"])
            )
            idf = arrays["idf"]
            build_id = str(arrays["build_id"])
        return cls(vocabulary, weights, idf, build_id)
