"""Data model of a knowledge-base entry.

An entry describes one procedure (``passport``, ``waste-collection``...) in French and/or English. The
shape is the one the editor API reads and writes (see CONTRACT.md); YAML files under ``entries/`` follow it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

#: Languages an entry can be written in, in order of preference.
LANGUAGES: tuple[str, ...] = ("fr", "en")

#: A slug: lowercase words of letters and digits joined by single hyphens.
SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"

#: Error type raised when an entry has neither language (the store reports it on the ``fr, en`` fields).
NO_LANGUAGE_ERROR = "no_language"

NonEmptyStr = Annotated[str, Field(min_length=1)]


def is_http_url(value: str) -> bool:
    """Tell whether ``value`` is a well-formed absolute http(s) URL.

    Args:
        value: The text to check.

    Returns:
        True for ``http://host...`` or ``https://host...`` with a host containing a dot (or ``localhost``) and
        no whitespace.
    """
    if not value or any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and ("." in host or host == "localhost")


class Localized(BaseModel):
    """One language version of an entry.

    Attributes:
        title: Short title of the procedure.
        questions: Ways citizens ask about it; the search index embeds them.
        answer: The answer, in Markdown.
        documents: Documents to bring or provide.
        cost: What it costs, or None.
        delay: How long it takes, or None.
        where: Office or website in charge, or None.
        url: Official online procedure (http or https), or None.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    title: NonEmptyStr
    questions: list[NonEmptyStr] = Field(min_length=1)
    answer: NonEmptyStr
    documents: list[NonEmptyStr] = Field(default_factory=list)
    cost: str | None = None
    delay: str | None = None
    where: str | None = None
    url: str | None = None

    @field_validator("cost", "delay", "where", "url", mode="before")
    @classmethod
    def _blank_to_none(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is not None and not is_http_url(value):
            raise ValueError(f"not a well-formed http(s) link: {value!r}")
        return value

    @field_validator("questions")
    @classmethod
    def _check_unique_questions(cls, value: list[str]) -> list[str]:
        seen: set[str] = set()
        for question in value:
            key = question.casefold()
            if key in seen:
                raise ValueError(f"question listed twice: {question!r}")
            seen.add(key)
        return value


class Entry(BaseModel):
    """A knowledge-base entry: one procedure, in one or both languages.

    Attributes:
        slug: Stable identifier (public contract), e.g. ``passport``.
        category: Short free-text category, or None.
        fr: French version, or None.
        en: English version, or None.
        reviewed: Date the content was last reviewed, or None.
        origin: Where the entry comes from: ``commune`` for the commune's own entries; imported entries use
            another value (e.g. ``service-public``).
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    slug: str = Field(pattern=SLUG_PATTERN)
    category: str | None = None
    fr: Localized | None = None
    en: Localized | None = None
    reviewed: date | None = None
    origin: NonEmptyStr = "commune"

    @model_validator(mode="after")
    def _check_has_language(self) -> Entry:
        if self.fr is None and self.en is None:
            raise PydanticCustomError(
                NO_LANGUAGE_ERROR,
                "the entry has no language: give at least 'fr' or 'en' with title, questions and answer",
            )
        return self

    def languages(self) -> list[str]:
        """List the languages this entry is written in.

        Returns:
            Language codes present, ``"fr"`` first.
        """
        return [lang for lang in LANGUAGES if getattr(self, lang) is not None]

    def localized(self, lang: str | None) -> tuple[str, Localized]:
        """Return the version of the entry in ``lang``, or in the other language when it is missing.

        Args:
            lang: Wanted language (``"fr"`` or ``"en"``); None or an unknown code picks the first available
                language (French first).

        Returns:
            The language actually used and its content.
        """
        if lang in LANGUAGES:
            content: Localized | None = getattr(self, lang)
            if content is not None:
                return lang, content
        used = self.languages()[0]
        fallback: Localized = getattr(self, used)
        return used, fallback

    def texts(self) -> list[tuple[str, str]]:
        """List the texts the search index embeds for this entry.

        Returns:
            ``(lang, text)`` pairs: the title then each question, for each language present.
        """
        pairs: list[tuple[str, str]] = []
        for lang in self.languages():
            content: Localized = getattr(self, lang)
            pairs.append((lang, content.title))
            pairs.extend((lang, question) for question in content.questions)
        return pairs
