"""What the API says in its own words: notices to citizens (``texts.yml``) and agents' canned replies.

Both files hold a French and an English version of each text; they are read once, checked, and cached.
"""

from __future__ import annotations

import functools
import string
from pathlib import Path
from typing import Any

import yaml

API_DIR = Path(__file__).resolve().parent
TEXTS_FILE = API_DIR / "texts.yml"
CANNED_FILE = API_DIR / "canned_responses.yml"
LANGUAGES = ("fr", "en")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@functools.lru_cache(maxsize=1)
def notices() -> dict[str, dict[str, str]]:
    """Return the notices: ``{key: {"fr": text, "en": text}}``.

    Raises:
        ValueError: A notice lacks a language, or its versions differ in placeholders.
    """
    loaded: Any = yaml.safe_load(TEXTS_FILE.read_text(encoding="utf-8"))
    result: dict[str, dict[str, str]] = {}
    for key, versions in loaded.items():
        if not isinstance(versions, dict) or any(
            not isinstance(versions.get(lang), str) for lang in LANGUAGES
        ):
            raise ValueError(f"{TEXTS_FILE.name}: {key} needs a French and an English text")
        if _placeholders(versions["fr"]) != _placeholders(versions["en"]):
            raise ValueError(f"{TEXTS_FILE.name}: {key} has different placeholders in French and English")
        result[str(key)] = {lang: versions[lang].strip() for lang in LANGUAGES}
    return result


def notice(key: str, language: str, **values: object) -> str:
    """Return a notice in a language (French when the language is unknown), its placeholders filled.

    Args:
        key: The notice's key in ``texts.yml``.
        language: ``fr`` or ``en``.
        **values: The placeholders' values.

    Returns:
        The text.
    """
    versions = notices()[key]
    return versions.get(language, versions["fr"]).format(**values)


@functools.lru_cache(maxsize=1)
def canned_responses() -> dict[str, list[dict[str, str]]]:
    """Return the agents' canned replies by language: ``{"fr": [{"title", "text"}], "en": [...]}``.

    Raises:
        ValueError: A reply lacks a title or a text in one of the languages.
    """
    loaded: Any = yaml.safe_load(CANNED_FILE.read_text(encoding="utf-8"))
    result: dict[str, list[dict[str, str]]] = {lang: [] for lang in LANGUAGES}
    for position, reply in enumerate(loaded, start=1):
        for lang in LANGUAGES:
            version = reply.get(lang) if isinstance(reply, dict) else None
            if not isinstance(version, dict) or not version.get("title") or not version.get("text"):
                raise ValueError(f"{CANNED_FILE.name}: reply {position} needs a title and a text in {lang}")
            result[lang].append({"title": str(version["title"]), "text": str(version["text"]).strip()})
    return result
