"""Semantic search over the entries, with abstention when nothing matches well enough."""

from __future__ import annotations

import dataclasses
import logging
import threading
import unicodedata
from dataclasses import dataclass, field

import faiss
import numpy as np
import numpy.typing as npt

from knowledge_base.config import KnowledgeBaseSettings
from knowledge_base.embeddings import EmbeddingBackend, get_backend
from knowledge_base.index import (
    IndexManifest,
    IndexNotBuiltError,
    LoadedIndex,
    ensure_index,
    load_index,
    manifest_signature,
    read_manifest,
)
from knowledge_base.models import LANGUAGES, Entry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    """An entry matching a query.

    Attributes:
        slug: The entry's slug.
        score: The entry's score: ``(1 - w) * dense + w * lexical``, plus the commune bonus for the commune's
            own entries (``w`` is the settings' lexical weight).
        entry: The entry.
        lang: Language of the best matching text.
        text: The best matching text (title or question).
        dense: Cosine similarity between the query and that text.
        lexical: Normalised BM25 score of the query's character n-grams in the entry's texts.
    """

    slug: str
    score: float
    entry: Entry
    lang: str = ""
    text: str = ""
    dense: float = 0.0
    lexical: float = 0.0


@dataclass(frozen=True)
class SearchResult:
    """The outcome of a search.

    Attributes:
        answered: Whether the best hit is good enough to answer from (False: out of scope or too unsure).
        hits: The best entries, best first, at most one hit per entry.
        out_of_scope: Cosine similarity between the query and the closest out-of-scope example, or None when
            there are none.
    """

    answered: bool
    hits: list[Hit] = field(default_factory=list)
    out_of_scope: float | None = None

    @property
    def best(self) -> Hit | None:
        """The best hit, or None when there is none."""
        return self.hits[0] if self.hits else None


@dataclass(frozen=True)
class Signals:
    """What the scores of every entry are made of, for one query (see :meth:`Searcher.signals`).

    Attributes:
        text: The query, with its spaces normalised.
        state: The index the signals were computed on.
        dense: Per entry (in index order), the best cosine similarity between the query and its texts.
        best_rows: Per entry, the vector (row) that gave it.
        lexical: Per entry, the normalised BM25 score (zeros when lexical matching is off).
        out_of_scope: Similarity with the closest out-of-scope example, or None when there are none.
        lang: The query's language, if known.
    """

    text: str
    state: _State
    dense: npt.NDArray[np.float32]
    best_rows: npt.NDArray[np.int64]
    lexical: npt.NDArray[np.float32]
    out_of_scope: float | None
    lang: str | None = None


@dataclass(frozen=True)
class _State:
    """An index in use, with the arrays a search needs."""

    loaded: LoadedIndex
    entries: dict[str, Entry]
    signature: tuple[int, int, int] | None
    #: Position (in ``loaded.entries``) of the entry each vector belongs to.
    row_entry: npt.NDArray[np.int64]
    #: First vector of each entry (vectors are grouped by entry, in entry order).
    entry_starts: npt.NDArray[np.int64]
    #: 1.0 for the commune's own entries, 0.0 for imported ones.
    commune: npt.NDArray[np.float32]
    #: The index's vectors, a view of the faiss index's own memory (no copy).
    vectors: npt.NDArray[np.float32]
    #: Per language, which entries are not written in it.
    lacks: dict[str, npt.NDArray[np.bool_]]

    @classmethod
    def of(cls, loaded: LoadedIndex, signature: tuple[int, int, int] | None) -> _State:
        position = {entry.slug: number for number, entry in enumerate(loaded.entries)}
        row_entry = np.fromiter(
            (position[row.slug] for row in loaded.rows), dtype=np.int64, count=len(loaded.rows)
        )
        if row_entry.size and (np.any(np.diff(row_entry) < 0) or np.unique(row_entry).size != len(position)):
            raise ValueError("the index's vectors are not grouped by entry: rebuild it")
        starts = np.searchsorted(row_entry, np.arange(len(position)))
        commune = np.asarray([entry.origin == "commune" for entry in loaded.entries], dtype=np.float32)
        entries = {entry.slug: entry for entry in loaded.entries}
        index = loaded.index
        vectors = faiss.rev_swig_ptr(index.get_xb(), index.ntotal * index.d).reshape(index.ntotal, index.d)
        lacks = {
            lang: np.asarray([getattr(entry, lang) is None for entry in loaded.entries]) for lang in LANGUAGES
        }
        return cls(loaded, entries, signature, row_entry, starts.astype(np.int64), commune, vectors, lacks)

    def with_signature(self, signature: tuple[int, int, int] | None) -> _State:
        return dataclasses.replace(self, signature=signature)


class Searcher:
    """Finds the entries that answer a citizen's question.

    Build one with :meth:`load`; it keeps the model and the index in memory. Searches may run from several
    threads; :meth:`reload_if_changed` swaps in a newly published index atomically.

    Args:
        settings: Knowledge-base settings.
        backend: Embedding backend (must be the one the index was built with).
        loaded: The index read from disk.
        signature: ``manifest_signature`` of the index folder when it was read.
    """

    def __init__(
        self,
        settings: KnowledgeBaseSettings,
        backend: EmbeddingBackend,
        loaded: LoadedIndex,
        signature: tuple[int, int, int] | None = None,
    ) -> None:
        self.settings = settings
        self.backend = backend
        self._reload_lock = threading.Lock()
        self._state = self._make_state(loaded, signature)

    @classmethod
    def load(cls, settings: KnowledgeBaseSettings | None = None) -> Searcher:
        """Load the entries, the index and the embedding backend, building the index if missing or stale.

        Args:
            settings: Knowledge-base settings; None reads them from the environment.

        Returns:
            A ready searcher.

        Raises:
            InvalidEntriesError: Some entry files are broken.
            UnknownBackendError: The settings name an unknown backend.
        """
        settings = settings or KnowledgeBaseSettings()
        ensure_index(settings)
        backend = get_backend(settings)
        signature = manifest_signature(settings.index_dir)
        return cls(settings, backend, load_index(settings.index_dir), signature)

    def _make_state(self, loaded: LoadedIndex, signature: tuple[int, int, int] | None) -> _State:
        manifest = loaded.manifest
        if (manifest.backend, manifest.model) != (self.backend.name, self.backend.model):
            raise ValueError(
                f"the index was built with {manifest.backend} ({manifest.model}), "
                f"not with {self.backend.name} ({self.backend.model}): rebuild it"
            )
        return _State.of(loaded, signature)

    @property
    def threshold(self) -> float:
        """Best-hit score under which the searcher abstains."""
        if self.settings.threshold is not None:
            return self.settings.threshold
        return self.backend.default_threshold

    @property
    def margin(self) -> float:
        """By how much the best score must exceed the similarity with the closest out-of-scope example."""
        if self.settings.out_of_scope_margin is not None:
            return self.settings.out_of_scope_margin
        return self.backend.default_out_of_scope_margin

    @property
    def manifest(self) -> IndexManifest:
        """Manifest of the index in use."""
        return self._state.loaded.manifest

    @property
    def entries(self) -> list[Entry]:
        """The entries searched, sorted by slug."""
        return list(self._state.loaded.entries)

    def get(self, slug: str) -> Entry | None:
        """Return the entry with this slug, or None."""
        return self._state.entries.get(slug)

    def search(self, query: str, lang: str | None = None, k: int = 5) -> SearchResult:
        """Find the entries closest to a question.

        Each entry is scored by mixing two signals: the cosine similarity between the query's embedding and
        the entry's best matching text (title or question, in either language: an English question finds an
        entry written only in French and the reverse), and lexical matching of the query's character
        n-grams (robust to typos and missing accents). The commune's own entries get a small bonus over
        imported pages.

        Args:
            query: The citizen's question.
            lang: The citizen's language, if known. Matching ignores it (entries in the other language are
                found too); callers use it to pick the hit's version (``hit.entry.localized(lang)``).
            k: Maximum number of entries returned.

        Returns:
            Up to ``k`` hits, best first, and whether the best one is good enough to answer from.
        """
        signals = self.signals(query, lang)
        if signals is None or k <= 0:
            return SearchResult(answered=False, hits=[])
        loaded = signals.state.loaded
        combined = self.combine(signals)
        count = combined.size
        k = min(k, count)
        top = np.argpartition(-combined, k - 1)[:k] if k < count else np.arange(count)
        top = top[np.argsort(-combined[top], kind="stable")]
        hits = []
        for position in top:
            entry = loaded.entries[position]
            row = loaded.rows[signals.best_rows[position]]
            hits.append(
                Hit(
                    slug=entry.slug,
                    score=float(combined[position]),
                    entry=entry,
                    lang=row.lang,
                    text=row.text,
                    dense=float(signals.dense[position]),
                    lexical=float(signals.lexical[position]),
                )
            )
        out_of_scope = signals.out_of_scope
        answered = self.decide(hits[0].score, out_of_scope) if hits else False
        logger.debug(
            "search %r (%s): %s, out of scope %s, answered %s",
            signals.text,
            lang,
            [(hit.slug, round(hit.score, 3)) for hit in hits],
            out_of_scope,
            answered,
        )
        return SearchResult(answered=answered, hits=hits, out_of_scope=out_of_scope)

    def signals(self, query: str, lang: str | None = None) -> Signals | None:
        """Compute what the scores of every entry are made of, for one query.

        Args:
            query: The citizen's question.
            lang: Its language, if known.

        Returns:
            The signals, or None for an empty query or an empty index.
        """
        text = " ".join(unicodedata.normalize("NFC", query).split())
        state = self._state
        loaded = state.loaded
        count = len(loaded.entries)
        if not text or count == 0 or loaded.index.ntotal == 0:
            return None
        vector = self.backend.encode([text])
        dense, best_rows = self._dense(state, vector)
        lexical = (
            loaded.lexical.scores(text)
            if self.settings.lexical_weight > 0
            else np.zeros(count, dtype=np.float32)
        )
        out_of_scope = self._closest_out_of_scope(loaded, vector)
        return Signals(text, state, dense, best_rows, lexical, out_of_scope, lang)

    def combine(
        self, signals: Signals, lexical_weight: float | None = None, lexical_window: float | None = None
    ) -> npt.NDArray[np.float32]:
        """Score every entry from its signals.

        Lexical matching only counts for the entries whose cosine similarity is within ``lexical_window`` of
        the best one: it reorders the semantically close candidates (typos, exact words) but cannot lift an
        entry that merely shares a word ("déclaration") above one that means the same in another language.
        An entry not written in the query's language (when it is known) is scored by its cosine similarity
        alone: character n-grams mean nothing across languages.

        Args:
            signals: The query's signals.
            lexical_weight: Share of the lexical score; None uses the settings'.
            lexical_window: Overrides the settings' lexical window (for calibration).

        Returns:
            ``(1 - w) * dense + w * lexical`` (lexical zero outside the window), plus the commune bonus for
            the commune's entries.
        """
        weight = self.settings.lexical_weight if lexical_weight is None else lexical_weight
        window = self.settings.lexical_window if lexical_window is None else lexical_window
        dense = signals.dense
        lexical = np.where(dense >= dense.max() - window, signals.lexical, 0.0)
        other_language = signals.state.lacks.get(signals.lang or "")
        if other_language is not None:
            lexical = np.where(other_language, dense, lexical)
        bonus = self.settings.commune_bonus * signals.state.commune
        combined = (1 - weight) * dense + weight * lexical + bonus
        return combined.astype(np.float32)

    def decide(
        self,
        score: float,
        out_of_scope: float | None,
        *,
        threshold: float | None = None,
        margin: float | None = None,
    ) -> bool:
        """Tell whether to answer from the best entry.

        It answers when the entry's score reaches the threshold and clearly exceeds the question's similarity
        with the closest out-of-scope example.

        Args:
            score: The best entry's combined score.
            out_of_scope: The question's similarity with the closest out-of-scope example (None: no examples).
            threshold: Overrides the searcher's threshold (for calibration).
            margin: Overrides the settings' out-of-scope margin (for calibration).

        Returns:
            True to answer, False to abstain.
        """
        threshold = self.threshold if threshold is None else threshold
        margin = self.margin if margin is None else margin
        if not np.isfinite(score) or score < threshold:
            return False
        return out_of_scope is None or score >= out_of_scope + margin

    @staticmethod
    def _closest_out_of_scope(loaded: LoadedIndex, vector: npt.NDArray[np.float32]) -> float | None:
        if loaded.out_of_scope.ntotal == 0:
            return None
        scores, _ = loaded.out_of_scope.search(vector, 1)
        return float(scores[0][0])

    @staticmethod
    def _dense(
        state: _State, vector: npt.NDArray[np.float32]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        """Each entry's best cosine similarity with the query, and the vector (row) that gave it.

        Every entry needs a score (to mix it with its lexical one), so this is one exhaustive inner product
        over the flat index's vectors: 0.6 ms at 15,000 vectors, against 5 ms for faiss's sorted top-k of all.
        """
        row_scores = state.vectors @ vector[0]
        best = np.maximum.reduceat(row_scores, state.entry_starts)
        # The first row of each entry reaching its best score.
        is_best = row_scores >= best[state.row_entry]
        best_rows = np.full(best.shape, -1, dtype=np.int64)
        rows = np.flatnonzero(is_best)
        best_rows[state.row_entry[rows[::-1]]] = rows[::-1]
        return best.astype(np.float32), best_rows

    def reload_if_changed(self) -> bool:
        """Reload the index if a new one was published in the index folder since it was read.

        Costs one ``stat`` when nothing changed. Does not rebuild anything: whoever publishes entries builds
        the index (``build-index``). If the new index cannot be read, or was built with another backend, the
        current one stays in use and a warning is logged.

        Returns:
            True when a new index was loaded.
        """
        index_dir = self.settings.index_dir
        signature = manifest_signature(index_dir)
        if signature == self._state.signature:
            return False
        with self._reload_lock:
            state = self._state
            if signature == state.signature:
                return False
            manifest = read_manifest(index_dir)
            if manifest is not None and manifest.build_id == state.loaded.manifest.build_id:
                self._state = state.with_signature(signature)
                return False
            try:
                new_state = self._make_state(load_index(index_dir), signature)
            except (IndexNotBuiltError, ValueError) as exc:
                logger.warning("keeping the current index; cannot load the one in %s: %s", index_dir, exc)
                # Do not retry until the manifest changes again (a publication in progress rewrites it last).
                self._state = state.with_signature(signature)
                return False
            self._state = new_state
            logger.info(
                "reloaded the index from %s (%d entries, built %s)",
                index_dir,
                new_state.loaded.manifest.entries,
                new_state.loaded.manifest.built_at.isoformat(),
            )
            return True
