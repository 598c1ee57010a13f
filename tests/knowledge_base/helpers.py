"""Helpers shared by the knowledge-base tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from knowledge_base.config import DEFAULT_ENTRIES_DIR, REPO_ROOT, KnowledgeBaseSettings


def entry_data(slug: str, *, fr: bool = True, en: bool = True, **extra: Any) -> dict[str, Any]:
    """A small valid entry, as the YAML files hold it."""
    data: dict[str, Any] = {"slug": slug, "category": "test", "reviewed": "2026-11-01"}
    if fr:
        data["fr"] = {
            "title": f"Titre {slug}",
            "questions": [f"Question sur {slug} ?"],
            "answer": "Réponse.",
            "url": "https://www.service-public.fr",
        }
    if en:
        data["en"] = {"title": f"Title {slug}", "questions": [f"Question about {slug}?"], "answer": "Answer."}
    data.update(extra)
    return data


def settings_for(entries_dir: Path, index_dir: Path, **overrides: Any) -> KnowledgeBaseSettings:
    """Settings independent of the environment and of any .env file."""
    values: dict[str, Any] = {
        "entries_dir": entries_dir,
        "imported_dir": index_dir.parent / f"{index_dir.name}-imported",
        "index_dir": index_dir,
        "backend": "use",
        "model": None,
        "threshold": None,
    }
    values.update(overrides)
    return KnowledgeBaseSettings(**values)


def run_cli(
    *args: str,
    index_dir: Path,
    entries_dir: Path | None = None,
    imported_dir: Path | None = None,
    stdin: str | None = None,
    backend: str = "use",
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m knowledge_base`` with settings independent of the caller's environment.

    Imported entries default to a folder beside the index (nothing imported).
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("GUICHET_KB_")}
    env.update(
        GUICHET_KB_INDEX_DIR=str(index_dir),
        GUICHET_KB_ENTRIES_DIR=str(entries_dir or DEFAULT_ENTRIES_DIR),
        GUICHET_KB_IMPORTED_DIR=str(imported_dir or index_dir.parent / f"{index_dir.name}-imported"),
        GUICHET_KB_BACKEND=backend,
    )
    return subprocess.run(
        [sys.executable, "-m", "knowledge_base", *args],
        cwd=REPO_ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
