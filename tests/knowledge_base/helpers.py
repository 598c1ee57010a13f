"""Helpers shared by the knowledge-base tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from knowledge_base.config import KnowledgeBaseSettings


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
