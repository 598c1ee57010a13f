"""The pages the API serves: the agents' desk (``/agent``); their scripts and styles are under ``/static``."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
"""The folder served at ``/static``."""

# The pages hold no inline script: a strict policy stops any script a message could smuggle in.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-cache",
}

router = APIRouter(include_in_schema=False)


@router.get("/agent")
def agent_desk() -> FileResponse:
    """The agents' desk."""
    return FileResponse(STATIC_DIR / "agent" / "index.html", media_type="text/html", headers=SECURITY_HEADERS)
