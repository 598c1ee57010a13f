"""The ``guichet`` input channel: Rasa's REST channel, returning whole messages.

Rasa's standard ``rest`` channel keeps only text, buttons and images of each bot
message. The Guichet API also needs to know which language a message is in and
which knowledge-base entry it answers from; actions and domain responses put
both under the message's ``metadata``. This channel answers, for each bot
message, ``{"text", "buttons", "language", "source"}``.

It is enabled in ``bot/credentials.yml`` beside the standard ``rest`` and
``socketio`` channels, which keep working for Rasa's own clients.
"""

from __future__ import annotations

import copy
import logging
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import speedups
from bot.messages import normalise_message, payload_with_language

logger = logging.getLogger(__name__)

speedups.install()


class GuichetOutput(CollectingOutputChannel):
    """Collects bot messages whole, in the Guichet shape."""

    @classmethod
    def name(cls) -> str:
        """Name of the channel, as recorded in the tracker."""
        return "guichet"

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Keeps one bot message (text, buttons, language and source together)."""
        normalised = normalise_message(message)
        if normalised["text"] or normalised["buttons"]:
            self.messages.append({"recipient_id": recipient_id, **normalised})


class GuichetInput(RestInput):
    """REST webhook at ``/webhooks/guichet/webhook`` answering whole messages."""

    @classmethod
    def name(cls) -> str:
        """Name of the channel, also the URL segment of its webhook."""
        return "guichet"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Routes: ``GET /`` (health) and ``POST /webhook`` (one user message)."""
        webhook = Blueprint("guichet_webhook", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            body = request.json if isinstance(request.json, dict) else {}
            sender_id = body.get("sender")
            text = body.get("message")
            if not isinstance(sender_id, str) or not sender_id or not isinstance(text, str):
                return response.json({"error": "expected {'sender': str, 'message': str}"}, status=400)
            metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else None
            text = payload_with_language(text, (metadata or {}).get("language"))
            collector = GuichetOutput()
            try:
                await on_new_message(
                    UserMessage(text, collector, sender_id, input_channel=self.name(), metadata=metadata)
                )
            except CancelledError:
                logger.error("guichet channel: timed out on a message from %s", sender_id)
                return response.json({"error": "timeout"}, status=503)
            except Exception:
                logger.exception("guichet channel: failed on %r", copy.deepcopy(text))
                return response.json({"error": "the bot failed on this message"}, status=500)
            return response.json(collector.messages)

        return webhook
