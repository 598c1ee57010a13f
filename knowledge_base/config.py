"""Settings of the knowledge base, read from ``GUICHET_KB_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Folder of the ``knowledge_base`` package.
PACKAGE_DIR = Path(__file__).resolve().parent
#: Repository root (the parent of the package folder).
REPO_ROOT = PACKAGE_DIR.parent
#: Entries shipped with the package.
DEFAULT_ENTRIES_DIR = PACKAGE_DIR / "entries"
#: Questions the knowledge base must not answer from.
DEFAULT_OUT_OF_SCOPE_FILE = PACKAGE_DIR / "out_of_scope.yml"
#: Where the search index is written by default.
DEFAULT_INDEX_DIR = REPO_ROOT / "var" / "index"
#: Share of the lexical score in an entry's score (see ``docs/benchmarks.md`` for how it was chosen).
DEFAULT_LEXICAL_WEIGHT = 0.2
#: Lexical matching counts only for entries whose cosine similarity is this close to the best one's.
DEFAULT_LEXICAL_WINDOW = 0.15
#: Score bonus of the commune's own entries over imported ones.
DEFAULT_COMMUNE_BONUS = 0.05
#: Where imported entries (one sub-folder per source, e.g. ``service-public``) are written by default.
DEFAULT_IMPORTED_DIR = REPO_ROOT / "var" / "imported"


class KnowledgeBaseSettings(BaseSettings):
    """Where the entries and the index live, and how entries are embedded and searched.

    Every field can be set with an environment variable named ``GUICHET_KB_<FIELD>`` (for example
    ``GUICHET_KB_INDEX_DIR``) or in a ``.env`` file in the working directory.

    Attributes:
        entries_dir: Folder of the commune's entries (YAML files).
        imported_dir: Folder of imported entries: each sub-folder (``service-public``...) holds one source's
            entries, searched together with the commune's. Missing or empty: nothing imported.
        index_dir: Folder where the search index is built and read.
        out_of_scope_file: YAML file of questions the knowledge base must not answer from (per language).
        backend: Embedding backend: ``use`` (multilingual Universal Sentence Encoder, the default) or
            ``sentence-transformers``.
        model: Model for the backends that take one (sentence-transformers: a model name or a path); None uses
            the backend's default model.
        threshold: Best-hit score under which the searcher abstains; None uses the backend's own default,
            measured for its model with the default lexical weight.
        lexical_weight: Share of the lexical (BM25) score in an entry's score, from 0 (embeddings only) to 1
            (lexical only).
        out_of_scope_margin: A question is answered only when its best entry's score exceeds its similarity
            with the closest out-of-scope example by at least this much; None uses the backend's default.
        lexical_window: Lexical matching counts only for the entries whose cosine similarity is within this
            distance of the best entry's (so that a shared word cannot beat a translation).
        commune_bonus: Added to the score of the commune's own entries, so that they come before imported
            pages on the same subject (they carry the local details).
    """

    model_config = SettingsConfigDict(
        env_prefix="GUICHET_KB_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    entries_dir: Path = DEFAULT_ENTRIES_DIR
    imported_dir: Path = DEFAULT_IMPORTED_DIR
    index_dir: Path = DEFAULT_INDEX_DIR
    out_of_scope_file: Path = DEFAULT_OUT_OF_SCOPE_FILE
    backend: str = "use"
    model: str | None = None
    threshold: float | None = None
    lexical_weight: float = Field(default=DEFAULT_LEXICAL_WEIGHT, ge=0.0, le=1.0)
    out_of_scope_margin: float | None = Field(default=None, ge=-1.0, le=1.0)
    lexical_window: float = Field(default=DEFAULT_LEXICAL_WINDOW, ge=0.0, le=2.0)
    commune_bonus: float = Field(default=DEFAULT_COMMUNE_BONUS, ge=0.0, le=1.0)

    def source_dirs(self) -> list[Path]:
        """List the folders whose entries are searched: the commune's, then each imported source's.

        Returns:
            ``entries_dir`` followed by the sub-folders of ``imported_dir`` (sorted; hidden ones skipped).
        """
        imported: list[Path] = []
        if self.imported_dir.is_dir():
            imported = sorted(
                path
                for path in self.imported_dir.iterdir()
                if path.is_dir() and not path.name.startswith(".")
            )
        return [self.entries_dir, *imported]

    @field_validator("entries_dir", "imported_dir", "index_dir", "out_of_scope_file")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().absolute()

    @field_validator("model", mode="before")
    @classmethod
    def _blank_model(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value
