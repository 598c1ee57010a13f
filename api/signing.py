"""HMAC-SHA256 signatures of the calls between the bot and the API.

The caller (the action server, or the API resuming Rasa) signs the raw request body with the shared secret
``GUICHET_WEBHOOK_SECRET`` and sends the signature in the ``X-Guichet-Signature`` header, as the bare
hexadecimal digest or as ``sha256=<hex>``; the receiver recomputes it over the body it received. Standard
library only: the action server imports ``sign`` from here, and the Rasa server's ``guichet`` channel
``verify``.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Guichet-Signature"
"""The request header carrying the signature."""

DEFAULT_WEBHOOK_SECRET = "dev-webhook-secret"
"""Default shared secret; the API accepts it in development only (``api.config``)."""

_PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """Return the signature of a request body.

    Args:
        secret: The shared secret.
        body: The raw body, exactly as sent.

    Returns:
        The HMAC-SHA256 of the body, 64 lowercase hexadecimal characters.
    """
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Check a request body against the signature its caller sent, in constant time.

    Args:
        secret: The shared secret.
        body: The raw body, as received.
        header: The ``X-Guichet-Signature`` header: the hexadecimal digest, bare or as ``sha256=<hex>``
            (case-insensitive); None when the request had none.

    Returns:
        True when the signature is that of the body; False when it differs, is missing or is malformed.
    """
    if header is None or not header.isascii():
        return False
    candidate = header.strip().lower().removeprefix(_PREFIX)
    return hmac.compare_digest(candidate, sign(secret, body))
