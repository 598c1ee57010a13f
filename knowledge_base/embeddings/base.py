"""The interface every embedding backend implements."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np
import numpy.typing as npt

#: A matrix of embeddings: one float32, L2-normalised row per text.
Vectors = npt.NDArray[np.float32]


def normalize_rows(vectors: npt.ArrayLike) -> Vectors:
    """Return ``vectors`` as a C-contiguous float32 matrix whose rows have unit L2 norm.

    Args:
        vectors: A 2-d array-like of embeddings.

    Returns:
        The normalised matrix; all-zero rows stay zero.
    """
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2:
        raise ValueError(f"expected a 2-d matrix of embeddings, got shape {matrix.shape}")
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(matrix / norms, dtype=np.float32)


class EmbeddingBackend(ABC):
    """Turns texts into normalised vectors, so that an inner product is a cosine similarity.

    Backends load their model lazily, on the first call to :meth:`encode` (never at import or construction):
    building one is cheap, so that health checks can ask for its ``name`` and ``model``.

    Attributes:
        name: Registry name of the backend (``use``, ``sentence-transformers``).
        default_out_of_scope_margin: By how much the best score must exceed the similarity with the closest
            out-of-scope example, with this backend's default model, unless the settings give one.
        default_threshold: Best-hit score under which the searcher abstains with this backend's default model,
            unless the settings give one.
    """

    name: ClassVar[str]
    default_threshold: ClassVar[float]
    default_out_of_scope_margin: ClassVar[float]

    def __init__(self) -> None:
        self._load_lock = threading.Lock()

    @property
    @abstractmethod
    def model(self) -> str:
        """Identifier of the model (name, path or version), recorded in the index manifest. Must be cheap."""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Number of dimensions of the vectors."""

    @abstractmethod
    def _encode(self, texts: list[str]) -> npt.ArrayLike:
        """Embed a non-empty list of texts (the model is loaded by the subclass when needed)."""

    def encode(self, texts: list[str]) -> Vectors:
        """Embed texts.

        Args:
            texts: The texts to embed.

        Returns:
            A ``(len(texts), dim)`` float32 matrix with L2-normalised rows.
        """
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of texts, not a single string")
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return normalize_rows(self._encode(list(texts)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r})"
