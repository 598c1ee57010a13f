"""Semantic search over the entries, with abstention when nothing matches well enough."""

from __future__ import annotations

import logging
import threading
import unicodedata
from dataclasses import dataclass, field

import numpy as np

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
from knowledge_base.models import Entry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hit:
    """An entry matching a query.

    Attributes:
        slug: The entry's slug.
        score: Cosine similarity between the query and the entry's best matching text (title or question).
        entry: The entry.
        lang: Language of the best matching text.
        text: The best matching text.
    """

    slug: str
    score: float
    entry: Entry
    lang: str = ""
    text: str = ""


@dataclass(frozen=True)
class SearchResult:
    """The outcome of a search.

    Attributes:
        answered: Whether the best hit is good enough to answer from (False: out of scope or too unsure).
        hits: The best entries, best first, at most one hit per entry.
    """

    answered: bool
    hits: list[Hit] = field(default_factory=list)

    @property
    def best(self) -> Hit | None:
        """The best hit, or None when there is none."""
        return self.hits[0] if self.hits else None


@dataclass(frozen=True)
class _State:
    loaded: LoadedIndex
    entries: dict[str, Entry]
    signature: tuple[int, int, int] | None


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
        return _State(loaded, {entry.slug: entry for entry in loaded.entries}, signature)

    @property
    def threshold(self) -> float:
        """Best-hit score under which the searcher abstains."""
        if self.settings.threshold is not None:
            return self.settings.threshold
        return self.backend.default_threshold

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

        Every title and question of every entry is compared with the query, in both languages: an English
        question finds an entry written only in French and the reverse. An entry scores as its best matching
        text.

        Args:
            query: The citizen's question.
            lang: The citizen's language, if known. Matching ignores it (entries in the other language are
                found too); callers use it to pick the hit's version (``hit.entry.localized(lang)``).
            k: Maximum number of entries returned.

        Returns:
            Up to ``k`` hits, best first, and whether the best one is good enough to answer from.
        """
        text = " ".join(unicodedata.normalize("NFC", query).split())
        state = self._state
        index = state.loaded.index
        if not text or k <= 0 or index.ntotal == 0:
            return SearchResult(answered=False, hits=[])
        vector = self.backend.encode([text])
        rows = state.loaded.rows
        hits: dict[str, Hit] = {}
        wanted = min(index.ntotal, max(4 * k, 32))
        while True:
            scores, positions = index.search(vector, wanted)
            for score, position in zip(scores[0], positions[0], strict=True):
                if position < 0:
                    break
                row = rows[position]
                entry = state.entries.get(row.slug)
                if row.slug in hits or entry is None:
                    continue
                hits[row.slug] = Hit(
                    slug=row.slug, score=float(score), entry=entry, lang=row.lang, text=row.text
                )
                if len(hits) == k:
                    break
            if len(hits) >= k or wanted >= index.ntotal:
                break
            hits.clear()
            wanted = min(index.ntotal, wanted * 4)
        ranked = sorted(hits.values(), key=lambda hit: -hit.score)
        answered = bool(ranked) and bool(np.isfinite(ranked[0].score)) and ranked[0].score >= self.threshold
        logger.debug("search %r (%s): %s", text, lang, [(hit.slug, round(hit.score, 3)) for hit in ranked])
        return SearchResult(answered=answered, hits=ranked)

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
                self._state = _State(state.loaded, state.entries, signature)
                return False
            try:
                new_state = self._make_state(load_index(index_dir), signature)
            except (IndexNotBuiltError, ValueError) as exc:
                logger.warning("keeping the current index; cannot load the one in %s: %s", index_dir, exc)
                # Do not retry until the manifest changes again (a publication in progress rewrites it last).
                self._state = _State(state.loaded, state.entries, signature)
                return False
            self._state = new_state
            logger.info(
                "reloaded the index from %s (%d entries, built %s)",
                index_dir,
                new_state.loaded.manifest.entries,
                new_state.loaded.manifest.built_at.isoformat(),
            )
            return True
