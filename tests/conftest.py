"""Fixtures shared by the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts.model import ensure_trained


@pytest.fixture(scope="session")
def rasa_model() -> Path:
    """The trained Rasa model for the current training data (trained if missing)."""
    return ensure_trained()
