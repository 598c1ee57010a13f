"""The action server's calls to the Guichet API's webhooks, signed with the shared secret.

The API accepts a webhook only with ``X-Guichet-Signature``, the HMAC-SHA256 of the body under
``GUICHET_WEBHOOK_SECRET`` (see ``api/signing.py``). The API's address is ``GUICHET_API_URL``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx

from api.config import get_settings
from api.signing import SIGNATURE_HEADER, sign

logger = logging.getLogger(__name__)

HANDOFF_PATH = "/api/webhooks/handoff"
FEEDBACK_PATH = "/api/webhooks/feedback"
TIMEOUT_SECONDS = 5.0


class WebhookError(RuntimeError):
    """The API could not be reached or refused the call."""


async def post_webhook(path: str, payload: dict[str, Any]) -> dict[str, Any] | None:
    """POSTs a signed JSON payload to one of the API's webhooks.

    Args:
        path: The webhook's path, e.g. ``/api/webhooks/handoff``.
        payload: The JSON body.

    Returns:
        The API's JSON answer, or None when it has no body.

    Raises:
        WebhookError: The API could not be reached, timed out, or answered an error status.
    """
    settings = get_settings()
    body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(settings.webhook_secret.get_secret_value(), body),
    }
    url = f"{settings.api_url}{path}"
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=TIMEOUT_SECONDS) as client:
            response = await client.post(url, content=body, headers=headers)
        response.raise_for_status()
    except httpx.HTTPStatusError as exc:
        raise WebhookError(f"{url} answered HTTP {exc.response.status_code}") from exc
    except httpx.HTTPError as exc:
        raise WebhookError(f"cannot reach {url}: {type(exc).__name__}") from exc
    if not response.content:
        return None
    try:
        answer = response.json()
    except ValueError as exc:
        raise WebhookError(f"{url} answered a body that is not JSON") from exc
    return answer if isinstance(answer, dict) else None
