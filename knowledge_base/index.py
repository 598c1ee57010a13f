"""The search index: a faiss index of one vector per entry title and question, and a lexical index.

An index folder holds:

- ``index.faiss``: a faiss ``IndexFlatIP`` of normalised vectors (inner product = cosine similarity);
- ``out-of-scope.faiss``: the vectors of the out-of-scope examples (questions not to answer), whose texts are
  in ``rows.json``;
- ``lexical-vocabulary.json`` and ``lexical-matrix.npz``: BM25 weights of each entry's character n-grams (one
  document per entry, in slug order; see ``knowledge_base.lexical``);
- ``rows.json``: for each vector, the slug and language of the entry and the text embedded;
- ``entries.json``: the entries the index was built from, so that a searcher answers from exactly them;
- ``manifest.json``: backend, model, dimension, entries fingerprint, build time and counts. It is written
  last: its change is what tells a running searcher that a new index was published.

Every file carries the same ``build_id``; a reader that sees two builds mixed (one being published) retries.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from pydantic import BaseModel, ValidationError
from tqdm import tqdm  # type: ignore[import-untyped]

from knowledge_base.config import KnowledgeBaseSettings
from knowledge_base.embeddings import EmbeddingBackend, UnknownBackendError, get_backend
from knowledge_base.lexical import MATRIX_FILE, VOCABULARY_FILE, LexicalIndex
from knowledge_base.models import Entry
from knowledge_base.store import (
    InvalidEntriesError,
    canonical_entries,
    entries_fingerprint,
    load_out_of_scope,
    load_sources,
    sources_fingerprint,
)

logger = logging.getLogger(__name__)

INDEX_FILE = "index.faiss"
OUT_OF_SCOPE_FILE = "out-of-scope.faiss"
ROWS_FILE = "rows.json"
ENTRIES_FILE = "entries.json"
MANIFEST_FILE = "manifest.json"
LOCK_FILE = ".build.lock"

#: Version of the on-disk layout; a different one means the index must be rebuilt.
FORMAT_VERSION = 2
_DATA_FILES = (INDEX_FILE, OUT_OF_SCOPE_FILE, ROWS_FILE, ENTRIES_FILE, VOCABULARY_FILE, MATRIX_FILE)

NOT_BUILT = "index not built"
OUT_OF_DATE = "index out of date"


class IndexManifest(BaseModel):
    """What an index was built from.

    Attributes:
        backend: Name of the embedding backend.
        model: Identifier of the backend's model.
        dim: Dimension of the vectors.
        fingerprint: ``index_fingerprint`` of the entries and out-of-scope examples indexed.
        built_at: When the index was built (UTC).
        count: Number of vectors (titles and questions).
        entries: Number of entries.
        build_id: Identifier shared by the files of one build.
        format: Version of the on-disk layout.
    """

    backend: str
    model: str
    dim: int
    fingerprint: str
    built_at: datetime
    count: int
    entries: int
    build_id: str
    format: int = FORMAT_VERSION


@dataclass(frozen=True)
class IndexRow:
    """What one vector of the index stands for.

    Attributes:
        slug: The entry.
        lang: The language of the text.
        text: The text embedded (the entry's title or one of its questions).
    """

    slug: str
    lang: str
    text: str


@dataclass(frozen=True)
class LoadedIndex:
    """An index read from disk, consistent across its files.

    Attributes:
        manifest: Its manifest.
        index: The faiss index.
        rows: What each vector stands for, in index order (grouped by entry, in slug order).
        entries: The entries it was built from, sorted by slug.
        lexical: BM25 weights, one document per entry in the order of ``entries``.
        out_of_scope: faiss index of the out-of-scope examples.
        out_of_scope_texts: Their ``(lang, text)``, in index order.
    """

    manifest: IndexManifest
    index: Any
    rows: list[IndexRow]
    entries: list[Entry]
    lexical: LexicalIndex
    out_of_scope: Any
    out_of_scope_texts: list[tuple[str, str]]


class IndexNotBuiltError(FileNotFoundError):
    """There is no usable index in the folder."""


def read_manifest(index_dir: Path) -> IndexManifest | None:
    """Read an index's manifest.

    Args:
        index_dir: The index folder.

    Returns:
        The manifest, or None when it is missing or unreadable.
    """
    path = Path(index_dir) / MANIFEST_FILE
    try:
        return IndexManifest.model_validate_json(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as exc:
        logger.warning("unreadable index manifest %s: %s", path, exc)
        return None


def index_fingerprint(entries_digest: str, out_of_scope: Sequence[tuple[str, str]]) -> str:
    """Fingerprint what an index is built from.

    Args:
        entries_digest: ``entries_fingerprint`` of the entries.
        out_of_scope: The out-of-scope examples.

    Returns:
        A sha256 hex digest.
    """
    examples = json.dumps([list(pair) for pair in out_of_scope], ensure_ascii=False)
    return hashlib.sha256(f"{entries_digest}\n{examples}".encode()).hexdigest()


def is_index_current(manifest: IndexManifest | None, fingerprint: str, backend: EmbeddingBackend) -> bool:
    """Tell whether an index was built from these entries with this backend.

    Args:
        manifest: The index's manifest (None when there is none).
        fingerprint: ``index_fingerprint`` of the current entries and out-of-scope examples.
        backend: The current backend.

    Returns:
        True when nothing needs rebuilding.
    """
    return (
        manifest is not None
        and manifest.format == FORMAT_VERSION
        and manifest.fingerprint == fingerprint
        and manifest.backend == backend.name
        and manifest.model == backend.model
    )


def _files_present(index_dir: Path) -> bool:
    return all((index_dir / name).is_file() for name in (*_DATA_FILES, MANIFEST_FILE))


def lexical_document(entry: Entry) -> str:
    """The text of an entry that lexical matching reads: its titles and questions, in every language.

    Args:
        entry: The entry.

    Returns:
        The texts, one a line.
    """
    return "\n".join(text for _, text in entry.texts())


@contextmanager
def _build_lock(index_dir: Path) -> Iterator[None]:
    """Let one process at a time build into ``index_dir``."""
    with (index_dir / LOCK_FILE).open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")


def build_index(
    entries: Sequence[Entry],
    backend: EmbeddingBackend,
    index_dir: Path,
    *,
    out_of_scope: Sequence[tuple[str, str]] = (),
    progress: bool = True,
    force: bool = False,
    batch_size: int = 64,
) -> IndexManifest:
    """Embed the entries and write the index, unless it is already up to date.

    Every title and question is embedded, in each language the entry has. The files are written under
    temporary names, then moved into place with the manifest last, so readers never see a half-written index.

    Args:
        entries: The entries to index.
        backend: The embedding backend.
        index_dir: Folder of the index (created if needed).
        out_of_scope: ``(lang, question)`` examples the searcher must not answer.
        progress: Show a tqdm progress bar while embedding.
        force: Rebuild even when the index matches the entries and the backend.
        batch_size: Texts embedded per call to the backend.

    Returns:
        The manifest of the index, the existing one when nothing needed doing.
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = index_fingerprint(entries_fingerprint(entries), out_of_scope)
    with _build_lock(index_dir):
        existing = read_manifest(index_dir)
        if not force and is_index_current(existing, fingerprint, backend) and _files_present(index_dir):
            assert existing is not None
            logger.info("index in %s is up to date (%d vectors), not rebuilt", index_dir, existing.count)
            return existing

        ordered = sorted(entries, key=lambda entry: entry.slug)
        rows = [IndexRow(entry.slug, lang, text) for entry in ordered for lang, text in entry.texts()]
        started = time.perf_counter()
        texts = [row.text for row in rows] + [text for _, text in out_of_scope]
        vectors = np.zeros((len(texts), backend.dim), dtype=np.float32)
        with tqdm(total=len(texts), desc="Embedding entries", unit="text", disable=not progress) as bar:
            for start in range(0, len(texts), batch_size):
                batch = texts[start : start + batch_size]
                vectors[start : start + len(batch)] = backend.encode(batch)
                bar.update(len(batch))
        index = faiss.IndexFlatIP(backend.dim)
        index.add(vectors[: len(rows)])
        decoys = faiss.IndexFlatIP(backend.dim)
        decoys.add(vectors[len(rows) :])
        build_id = uuid.uuid4().hex
        lexical = LexicalIndex.build([lexical_document(entry) for entry in ordered], build_id)

        manifest = IndexManifest(
            backend=backend.name,
            model=backend.model,
            dim=backend.dim,
            fingerprint=fingerprint,
            built_at=datetime.now(timezone.utc),
            count=len(rows),
            entries=len(ordered),
            build_id=build_id,
        )
        suffix = f".{manifest.build_id}.tmp"
        temporary = {name: index_dir / (name + suffix) for name in _DATA_FILES}
        try:
            faiss.write_index(index, str(temporary[INDEX_FILE]))
            faiss.write_index(decoys, str(temporary[OUT_OF_SCOPE_FILE]))
            lexical.save(index_dir, suffix)
            _write_json(
                temporary[ROWS_FILE],
                {
                    "build_id": manifest.build_id,
                    "rows": [[row.slug, row.lang, row.text] for row in rows],
                    "out_of_scope": [list(pair) for pair in out_of_scope],
                },
            )
            _write_json(
                temporary[ENTRIES_FILE],
                {"build_id": manifest.build_id, "entries": canonical_entries(ordered)},
            )
            # Readers read in the reverse order (manifest first) and check build ids.
            for name in reversed(_DATA_FILES):
                temporary[name].replace(index_dir / name)
            manifest_tmp = index_dir / (MANIFEST_FILE + suffix)
            manifest_tmp.write_text(manifest.model_dump_json(indent=2), encoding="utf-8")
            manifest_tmp.replace(index_dir / MANIFEST_FILE)
        finally:
            for path in temporary.values():
                path.unlink(missing_ok=True)
        logger.info(
            "index built in %s: %d vectors for %d entries with %s in %.1f s",
            index_dir,
            manifest.count,
            manifest.entries,
            backend.name,
            time.perf_counter() - started,
        )
        return manifest


def _read_once(index_dir: Path) -> LoadedIndex | None:
    """Read the index files; None when they belong to different builds."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexNotBuiltError(f"{NOT_BUILT}: no manifest in {index_dir}")
    try:
        index = faiss.read_index(str(index_dir / INDEX_FILE))
        decoys = faiss.read_index(str(index_dir / OUT_OF_SCOPE_FILE))
        rows_data = json.loads((index_dir / ROWS_FILE).read_text(encoding="utf-8"))
        entries_data = json.loads((index_dir / ENTRIES_FILE).read_text(encoding="utf-8"))
        lexical = LexicalIndex.load(index_dir)
    except FileNotFoundError as exc:
        raise IndexNotBuiltError(f"{NOT_BUILT}: {exc}") from exc
    except (RuntimeError, ValueError, OSError):  # a file being replaced: faiss, json or numpy cannot read it
        return None
    if not (
        rows_data.get("build_id") == entries_data.get("build_id") == lexical.build_id == manifest.build_id
        and index.ntotal == len(rows_data["rows"]) == manifest.count
        and decoys.ntotal == len(rows_data.get("out_of_scope", ()))
        and lexical.size == len(entries_data["entries"]) == manifest.entries
    ):
        return None
    after = read_manifest(index_dir)
    if after is None or after.build_id != manifest.build_id:
        return None
    rows = [IndexRow(slug, lang, text) for slug, lang, text in rows_data["rows"]]
    entries = [Entry.model_validate(data) for data in entries_data["entries"]]
    return LoadedIndex(
        manifest=manifest,
        index=index,
        rows=rows,
        entries=entries,
        lexical=lexical,
        out_of_scope=decoys,
        out_of_scope_texts=[(lang, text) for lang, text in rows_data["out_of_scope"]],
    )


def load_index(index_dir: Path, *, attempts: int = 5) -> LoadedIndex:
    """Read an index from disk.

    Args:
        index_dir: The index folder.
        attempts: How many times to try when the files belong to different builds (one being published).

    Returns:
        The index, its rows, entries and manifest.

    Raises:
        IndexNotBuiltError: There is no index in the folder, or its files stayed inconsistent.
    """
    index_dir = Path(index_dir)
    for attempt in range(attempts):
        loaded = _read_once(index_dir)
        if loaded is not None:
            return loaded
        logger.debug("index files in %s are being replaced; retrying (%d)", index_dir, attempt + 1)
        time.sleep(0.05 * (attempt + 1))
    raise IndexNotBuiltError(f"the index files in {index_dir} do not belong to the same build")


def ensure_index(
    settings: KnowledgeBaseSettings | None = None, *, progress: bool = False, force: bool = False
) -> IndexManifest:
    """Build the index of the settings' entries with the settings' backend, unless it is already current.

    Args:
        settings: Knowledge-base settings; None reads them from the environment.
        progress: Show a progress bar while embedding.
        force: Rebuild even when the index is current.

    Returns:
        The manifest of the current index.

    Raises:
        InvalidEntriesError: Some entry files are broken.
        UnknownBackendError: The settings name an unknown backend.
    """
    settings = settings or KnowledgeBaseSettings()
    return build_index(
        load_sources(settings.source_dirs()),
        get_backend(settings),
        settings.index_dir,
        out_of_scope=load_out_of_scope(settings.out_of_scope_file),
        progress=progress,
        force=force,
    )


def index_status(settings: KnowledgeBaseSettings | None = None) -> str | None:
    """Tell whether the index is ready to serve the current entries, without loading any model.

    Meant for health checks: it reads the manifest and fingerprints the entries (re-reading their files only
    when one changed).

    Args:
        settings: Knowledge-base settings; None reads them from the environment.

    Returns:
        None when a built index matches the current entries and backend; otherwise a short reason:
        ``"index not built"``, ``"index out of date"`` (entries changed), ``"index out of date: built with
        another embedding model"``, or a reason starting with ``"entries invalid"`` or
        ``"unknown embedding backend"``.
    """
    settings = settings or KnowledgeBaseSettings()
    manifest = read_manifest(settings.index_dir)
    if manifest is None or not _files_present(settings.index_dir):
        return NOT_BUILT
    try:
        backend = get_backend(settings)
    except (UnknownBackendError, RuntimeError) as exc:  # RuntimeError: the backend's default model is missing
        return str(exc)
    if manifest.format != FORMAT_VERSION or (manifest.backend, manifest.model) != (
        backend.name,
        backend.model,
    ):
        return f"{OUT_OF_DATE}: built with another embedding model"
    try:
        fingerprint = index_fingerprint(
            sources_fingerprint(settings.source_dirs()), load_out_of_scope(settings.out_of_scope_file)
        )
    except FileNotFoundError:
        return f"entries invalid: folder not found: {settings.entries_dir}"
    except InvalidEntriesError as exc:
        return f"entries invalid: {len(exc.problems)} problem(s), run `python -m knowledge_base validate`"
    if fingerprint != manifest.fingerprint:
        return OUT_OF_DATE
    return None


def manifest_signature(index_dir: Path) -> tuple[int, int, int] | None:
    """Identify the manifest's current version cheaply (one ``stat``), to notice a newly published index.

    Args:
        index_dir: The index folder.

    Returns:
        The manifest's modification time (ns), inode and size, or None when there is none. Every build
        replaces the file, so the signature changes even within one clock tick.
    """
    try:
        stat = (Path(index_dir) / MANIFEST_FILE).stat()
    except FileNotFoundError:
        return None
    return (stat.st_mtime_ns, stat.st_ino, stat.st_size)
