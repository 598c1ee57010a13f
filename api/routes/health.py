"""``GET /health``: whether the API and everything it needs are ready."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from fastapi import APIRouter, Response, status

from api.deps import ServicesDep, SettingsDep
from api.rasa_client import probe
from api.schemas import HealthOut

logger = logging.getLogger(__name__)

router = APIRouter(tags=["health"])

MAX_REASON_LENGTH = 200


async def check_database(services: ServicesDep) -> str | None:
    """Run ``SELECT 1`` on the database.

    Returns:
        None when it answers (it raises otherwise).
    """
    await services.db.ping()
    return None


def _knowledge_base_status() -> str | None:
    """Ask the knowledge base whether its search index is built and current (blocking).

    Imported lazily: ``knowledge_base`` loads heavy libraries, and the API must start without them.
    """
    from knowledge_base.index import index_status

    return index_status()


async def check_knowledge_base() -> str | None:
    """Check the knowledge base's index without blocking the event loop.

    Returns:
        None when the index is built and current, else a reason.
    """
    return await asyncio.to_thread(_knowledge_base_status)


async def _outcome(name: str, check: Awaitable[str | None], timeout: float) -> str:
    """Run one check within ``timeout`` seconds and return ``"ok"`` or a short reason."""
    try:
        reason = await asyncio.wait_for(check, timeout)
    except TimeoutError:
        reason = f"timed out after {timeout:g} s"
    except Exception as exc:
        logger.warning("Health check %s failed", name, exc_info=True)
        reason = f"{type(exc).__name__}: {exc}"
    if reason is None:
        return "ok"
    reason = reason.strip() or "failed"
    if len(reason) > MAX_REASON_LENGTH:
        reason = reason[: MAX_REASON_LENGTH - 1] + "…"
    return reason


@router.get(
    "/health",
    response_model=HealthOut,
    responses={
        status.HTTP_503_SERVICE_UNAVAILABLE: {"model": HealthOut, "description": "Something is not ready"}
    },
    summary="Readiness of the API, Rasa, the action server, the database and the knowledge base",
)
async def health(response: Response, settings: SettingsDep, services: ServicesDep) -> HealthOut:
    """Check every component concurrently, each within ``GUICHET_HEALTH_CHECK_TIMEOUT`` seconds.

    Answers 200 when every check is ``"ok"``, else 503 with the failing checks carrying a short reason.
    """
    timeout = settings.health_check_timeout
    checks: dict[str, Awaitable[str | None]] = {
        "rasa": services.rasa.status(timeout),
        "actions": probe(services.http, f"{settings.actions_url}/health", timeout),
        "database": check_database(services),
        "knowledge_base": check_knowledge_base(),
    }
    outcomes = await asyncio.gather(*(_outcome(name, check, timeout) for name, check in checks.items()))
    results = dict(zip(checks, outcomes, strict=True))
    healthy = all(outcome == "ok" for outcome in outcomes)
    if not healthy:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return HealthOut(status="ok" if healthy else "unavailable", checks=results)
