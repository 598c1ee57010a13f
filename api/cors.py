"""Cross-origin access for the citizens' widget, embedded on the commune's own website.

The widget's script is served by the API but runs in the commune's pages, on another origin: its calls to the
citizens' endpoints are cross-origin. Those endpoints are authorised by the conversation's bearer token, never
by a cookie, so any allowed site may call them. The staff endpoints, which a session cookie authorises, get no
cross-origin headers at all.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CITIZEN_PATHS = ("/api/conversations", "/api/widget/")
"""Path prefixes the widget calls."""


def parse_origins(value: str) -> list[str]:
    """Read ``GUICHET_WIDGET_ORIGINS``: ``*`` (any site) or comma-separated origins.

    Args:
        value: The setting.

    Returns:
        The origins, without trailing slashes.

    Raises:
        ValueError: An origin is not ``http(s)://host[:port]``.
    """
    origins = [origin.strip().rstrip("/") for origin in value.split(",") if origin.strip()]
    for origin in origins:
        scheme, _, rest = origin.partition("://")
        if origin != "*" and (scheme not in ("http", "https") or not rest or "/" in rest):
            raise ValueError(f"not an origin: {origin!r} (expected * or https://host[:port])")
    return origins


class CitizenCORSMiddleware:
    """Starlette's CORS middleware, applied to the citizens' endpoints only."""

    def __init__(self, app: ASGIApp, origins: list[str]) -> None:
        """Wrap the application.

        Args:
            app: The application.
            origins: Allowed origins (``["*"]`` for any).
        """
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PATCH"],
            allow_headers=["Authorization", "Content-Type"],
            allow_credentials=False,
            max_age=3600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and path.startswith(CITIZEN_PATHS):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)
