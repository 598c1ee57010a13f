"""Webhooks the bot's action server calls: hand a conversation over to the agents, report feedback.

Every call must carry ``X-Guichet-Signature``, the HMAC-SHA256 of its raw body under the shared secret
``GUICHET_WEBHOOK_SECRET`` (see ``api.signing``). The signature is checked before anything else, the body
included: an unsigned or badly signed call gets 401 whatever it holds.

The handoff webhook arrives while the turn that made the bot hand over holds the conversation's lock (the
API is waiting for Rasa's answer): these routes only write the database and never take that lock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.routing import APIRoute

from api import feedback, signing
from api.deps import DeskDep, SessionDep, get_settings
from api.schemas import BotFeedback, ErrorOut, HandoffQueued, HandoffRequest

logger = logging.getLogger(__name__)

BAD_SIGNATURE_DETAIL = (
    f"Missing or invalid {signing.SIGNATURE_HEADER}: send the HMAC-SHA256 of the raw body under the shared "
    "secret (GUICHET_WEBHOOK_SECRET), in hexadecimal."
)


class SignedRoute(APIRoute):
    """A route that answers 401 unless the request's body carries a valid ``X-Guichet-Signature``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Return the route's handler, preceded by the signature check."""
        handler = super().get_route_handler()

        async def signed_handler(request: Request) -> Response:
            secret = (await get_settings(request)).webhook_secret.get_secret_value()
            signature = request.headers.get(signing.SIGNATURE_HEADER)
            if not signing.verify(secret, await request.body(), signature):
                logger.warning("Webhook %s refused: missing or invalid signature", request.url.path)
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=BAD_SIGNATURE_DETAIL)
            return await handler(request)

        return signed_handler


_SIGNATURE_PARAMETER = {
    "name": signing.SIGNATURE_HEADER,
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
    "description": "HMAC-SHA256 of the raw body under GUICHET_WEBHOOK_SECRET: `HEX` or `sha256=HEX`.",
}

router = APIRouter(
    prefix="/webhooks",
    tags=["webhooks"],
    route_class=SignedRoute,
    responses={
        status.HTTP_401_UNAUTHORIZED: {"model": ErrorOut, "description": "Unsigned or badly signed"},
        status.HTTP_404_NOT_FOUND: {"model": ErrorOut, "description": "No such conversation"},
        422: {"model": ErrorOut, "description": "Invalid body; `detail` says what is wrong"},
    },
)


@router.post(
    "/handoff",
    response_model=HandoffQueued,
    openapi_extra={"parameters": [_SIGNATURE_PARAMETER]},
    summary="Hand a conversation over to the human agents (bot to API, signed)",
)
async def handoff(body: HandoffRequest, desk: DeskDep) -> HandoffQueued:
    """Put the conversation in ``waiting`` mode with a new waiting handoff, and say where it is in the queue,
    how long the wait may be, and whether an agent can answer now.

    When the office is closed or no agent is online, the handoff is a *ticket*: the citizen is invited to
    leave a message and an e-mail address or phone number, and agents find it in the queue. Idempotent: while
    the conversation has an open (waiting or active) handoff, that one is answered and nothing changes.
    """
    return await desk.request(body)


@router.post(
    "/feedback",
    status_code=status.HTTP_204_NO_CONTENT,
    openapi_extra={"parameters": [_SIGNATURE_PARAMETER]},
    summary="Report the citizen's verdict on the bot's latest answer (bot to API, signed)",
)
def bot_feedback(body: BotFeedback, session: SessionDep) -> None:
    """Store the verdict, linked to the conversation's latest answer from the knowledge base, if any."""
    stored = feedback.record_bot_feedback(
        session,
        body.conversation_id,
        helpful=body.helpful,
        slug=body.slug,
        question=body.question,
        comment=body.comment,
        language=body.language,
    )
    logger.info(
        "Conversation %s: feedback from the bot (%s, message %s)",
        stored.conversation_id,
        "helpful" if stored.helpful else "not helpful",
        stored.message_seq,
    )
