"""Shared fixtures: entry files in temporary folders, and one searcher over the shipped entries."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from knowledge_base.config import DEFAULT_ENTRIES_DIR
from knowledge_base.search import Searcher
from tests.knowledge_base.helpers import settings_for

WriteEntry = Callable[..., Path]


@pytest.fixture
def entries_dir(tmp_path: Path) -> Path:
    """An empty entries folder."""
    path = tmp_path / "entries"
    path.mkdir()
    return path


@pytest.fixture
def write_entry(entries_dir: Path) -> WriteEntry:
    """Write an entry file: ``write_entry(data)``, or raw text with ``write_entry(text=..., name=...)``."""

    def write(
        data: dict[str, Any] | None = None, *, name: str | None = None, text: str | None = None
    ) -> Path:
        if text is None:
            assert data is not None
            text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
        path = entries_dir / (name or f"{data['slug'] if data else 'entry'}.yml")
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def shipped_copy(tmp_path: Path) -> Path:
    """A copy of the shipped entries, free to modify."""
    path = tmp_path / "shipped"
    shutil.copytree(DEFAULT_ENTRIES_DIR, path)
    return path


@pytest.fixture(scope="session")
def shipped_searcher(tmp_path_factory: pytest.TempPathFactory) -> Searcher:
    """A searcher over the shipped entries with the default backend, built once per session."""
    return Searcher.load(settings_for(DEFAULT_ENTRIES_DIR, tmp_path_factory.mktemp("shipped-index")))
