"""``bot.retention`` forgets idle trackers from each kind of Rasa tracker store it supports.

Rasa is only installed in ``.venv-rasa``: ``tests/bot/tracker_stores.py`` runs there, on Rasa's own
in-memory, SQLite and Redis stores (Redis at ``localhost:6379``, under a key prefix of its own), and prints
what was left. The route in front of it, on the real Rasa server, is tested in ``tests/e2e``.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from scripts.model import REPO, rasa_environment

SCRIPT = Path(__file__).with_name("tracker_stores.py")
RASA_PYTHON = REPO / ".venv-rasa" / "bin" / "python"
KEPT = ["idle-1-day", "idle-89-days"]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    sqlite_file = tmp_path_factory.mktemp("trackers") / "rasa-tracker.db"
    redis_prefix = f"guichettest{uuid.uuid4().hex[:12]}"
    done = subprocess.run(
        [str(RASA_PYTHON), str(SCRIPT), str(sqlite_file), redis_prefix],
        cwd=REPO,
        env=rasa_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    parsed: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return parsed


@pytest.mark.parametrize("case", ["in_memory", "sql_behind_fail_safe"])
def test_trackers_idle_longer_than_the_period_are_forgotten_once(results: dict[str, Any], case: str) -> None:
    assert results[case] == {"counts": [2, 0], "left": KEPT}


def test_the_fail_safe_store_s_fallback_is_emptied_too(results: dict[str, Any]) -> None:
    assert results["fail_safe_with_fallback"] == {
        "counts": [3, 0],
        "left": KEPT,
        "fallback_left": ["fallback-idle-1-day"],
    }


def test_an_unsupported_store_deletes_nothing_and_says_which(results: dict[str, Any]) -> None:
    error = results["unsupported"]["error"]
    assert error is not None and "ElsewhereTrackerStore" in error and "SQLTrackerStore" in error
    assert results["unsupported"]["fallback_left"] == ["fallback-idle-1-day", "fallback-idle-100-days"]


def test_redis_trackers_are_forgotten_under_the_store_s_prefix_only(results: dict[str, Any]) -> None:
    if "skipped" in results["redis"]:
        pytest.skip(results["redis"]["skipped"])
    assert results["redis"] == {"counts": [2, 0], "left": KEPT, "other_left": 1}
