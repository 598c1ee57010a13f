"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.model import ensure_trained
from tests.stack import RunningStack, start_stack


@pytest.fixture(scope="session")
def rasa_model() -> Path:
    """The trained Rasa model for the current training data (trained if missing)."""
    return ensure_trained()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """The real stack (Rasa, action server, API) on free ports, started once for the whole session."""
    yield from start_stack(tmp_path_factory)
