"""Settings of the knowledge base, read from ``GUICHET_KB_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Folder of the ``knowledge_base`` package.
PACKAGE_DIR = Path(__file__).resolve().parent
#: Repository root (the parent of the package folder).
REPO_ROOT = PACKAGE_DIR.parent
#: Entries shipped with the package.
DEFAULT_ENTRIES_DIR = PACKAGE_DIR / "entries"
#: Where the search index is written by default.
DEFAULT_INDEX_DIR = REPO_ROOT / "var" / "index"


class KnowledgeBaseSettings(BaseSettings):
    """Where the entries and the index live, and how entries are embedded and searched.

    Every field can be set with an environment variable named ``GUICHET_KB_<FIELD>`` (for example
    ``GUICHET_KB_INDEX_DIR``) or in a ``.env`` file in the working directory.

    Attributes:
        entries_dir: Folder of the entries' YAML files.
        index_dir: Folder where the search index is built and read.
        backend: Embedding backend: ``use`` (multilingual Universal Sentence Encoder, the default) or
            ``sentence-transformers``.
        model: Model for the backends that take one (sentence-transformers: a model name or a path); None uses
            the backend's default model.
        threshold: Best-hit score under which the searcher abstains; None uses the backend's own default,
            measured for its model.
    """

    model_config = SettingsConfigDict(
        env_prefix="GUICHET_KB_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    entries_dir: Path = DEFAULT_ENTRIES_DIR
    index_dir: Path = DEFAULT_INDEX_DIR
    backend: str = "use"
    model: str | None = None
    threshold: float | None = None

    @field_validator("entries_dir", "index_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("model", mode="before")
    @classmethod
    def _blank_model(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value
