"""``GET /health``: 503 naming what is not ready, quickly, whatever hangs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.config import Settings
from api.main import create_app
from api.routes.health import MAX_REASON_LENGTH, _outcome


def test_health_is_503_naming_what_does_not_run(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings(GUICHET_KB_INDEX_DIR=str(tmp_path / "no-index"))

    with TestClient(create_app(settings)) as client:
        response = client.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert set(body["checks"]) == {"rasa", "actions", "database", "knowledge_base"}
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["rasa"].startswith("unreachable")
    assert body["checks"]["actions"].startswith("unreachable")
    assert body["checks"]["knowledge_base"] not in ("ok", "")


def test_health_answers_within_its_timeout_when_services_hang(
    make_settings: Callable[..., Settings], silent_port: int
) -> None:
    settings = make_settings(
        GUICHET_RASA_PORT=str(silent_port),
        GUICHET_ACTIONS_PORT=str(silent_port),
        GUICHET_HEALTH_CHECK_TIMEOUT="0.5",
    )

    with TestClient(create_app(settings)) as client:
        started = time.perf_counter()
        response = client.get("/health")
        elapsed = time.perf_counter() - started

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["rasa"] == "timed out after 0.5 s"
    assert checks["actions"] == "timed out after 0.5 s"
    assert elapsed < 1.5  # the checks ran concurrently


@pytest.mark.anyio
async def test_a_check_that_hangs_times_out() -> None:
    assert await _outcome("slow", asyncio.sleep(5), timeout=0.05) == "timed out after 0.05 s"


@pytest.mark.anyio
async def test_a_check_that_raises_fails_with_its_reason() -> None:
    async def broken() -> str | None:
        raise ModuleNotFoundError("No module named 'knowledge_base.index'")

    outcome = await _outcome("knowledge_base", broken(), timeout=1)
    assert outcome == "ModuleNotFoundError: No module named 'knowledge_base.index'"


@pytest.mark.anyio
async def test_reasons_are_kept_short() -> None:
    async def verbose() -> str | None:
        return "x" * 1000

    async def fine() -> str | None:
        return None

    assert len(await _outcome("verbose", verbose(), timeout=1)) == MAX_REASON_LENGTH
    assert await _outcome("fine", fine(), timeout=1) == "ok"
