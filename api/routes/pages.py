"""The pages the API serves: the commune's demo page (``/``) with the citizens' widget (``/widget.js``), and
the agents' desk (``/agent``); their other files are under ``/static``."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
"""The folder served at ``/static``."""

WIDGET_DIR = STATIC_DIR / "widget"
CSS_PLACEHOLDER = '"__GUICHET_WIDGET_CSS__"'
"""Where ``widget.js`` receives its style sheet, as a JSON string, when it is served."""

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


@dataclass(frozen=True)
class WidgetScript:
    """The widget as served: its script with its style sheet inside, so one request brings everything."""

    body: bytes
    etag: str
    stamp: tuple[float, float]


_built: list[WidgetScript] = []


def widget_script() -> WidgetScript:
    """Return the served widget, built again when ``widget.js`` or ``widget.css`` changed on disk."""
    js, css = WIDGET_DIR / "widget.js", WIDGET_DIR / "widget.css"
    stamp = (js.stat().st_mtime, css.stat().st_mtime)
    if _built and _built[0].stamp == stamp:
        return _built[0]
    source = js.read_text(encoding="utf-8")
    if CSS_PLACEHOLDER not in source:
        raise RuntimeError(f"{js} lacks its style sheet placeholder {CSS_PLACEHOLDER}")
    body = source.replace(CSS_PLACEHOLDER, json.dumps(css.read_text(encoding="utf-8")), 1).encode("utf-8")
    built = WidgetScript(body, '"' + hashlib.sha256(body).hexdigest()[:20] + '"', stamp)
    _built[:] = [built]
    return built


@router.get("/")
def demo_page() -> FileResponse:
    """A page of the commune's website, with the citizens' chat widget embedded as any site would."""
    return FileResponse(STATIC_DIR / "demo" / "index.html", media_type="text/html", headers=SECURITY_HEADERS)


@router.get("/widget.js")
def widget(request: Request) -> Response:
    """The embeddable widget: ``<script src="https://API/widget.js" defer></script>`` in any page."""
    script = widget_script()
    headers = {
        "ETag": script.etag,
        "Cache-Control": "public, max-age=300",
        "X-Content-Type-Options": "nosniff",
        # Any site may load it, as any script; the calls it makes are governed by GUICHET_WIDGET_ORIGINS.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if request.headers.get("if-none-match") == script.etag:
        return Response(status_code=304, headers=headers)
    return Response(script.body, media_type="text/javascript; charset=utf-8", headers=headers)


@router.get("/agent")
def agent_desk() -> FileResponse:
    """The agents' desk."""
    return FileResponse(STATIC_DIR / "agent" / "index.html", media_type="text/html", headers=SECURITY_HEADERS)
