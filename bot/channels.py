"""Guichet's Rasa input channels: ``guichet`` (whole messages) and ``socketio`` (Rasa's, fixed).

The ``guichet`` channel (:class:`GuichetInput`) is Rasa's REST channel, returning whole messages.
Rasa's standard ``rest`` channel keeps only text, buttons and images of each bot
message. The Guichet API also needs to know which language a message is in and
which knowledge-base entry it answers from; actions and domain responses put
both under the message's ``metadata``. This channel answers, for each bot
message, ``{"text", "buttons", "language", "source"}``.

It also lets the Guichet API give a conversation back to the bot after a human
agent had it: ``action_handoff`` pauses Rasa's tracker (``ConversationPaused``),
and ``POST /webhooks/guichet/resume`` ``{"conversation_id"}``, signed like the
API's own webhooks, resumes it (``ConversationResumed``). And it lets the API apply its retention period to
Rasa's copy of the conversations: ``POST /webhooks/guichet/forget`` ``{"idle_days"}``, signed too, deletes
from the tracker store every tracker idle for longer (``bot.retention``) and answers ``{"forgotten": N}``.

The ``socketio`` channel (:class:`GuichetSocketIOInput`) is Rasa's own, for
clients such as the ``rasa-webchat`` widget (same name, path ``/socket.io``,
events and credentials), with one fix: with ``session_persistence``, Rasa's
handler of ``session_request`` calls python-socketio's ``AsyncServer.enter_room``
without ``await``. Since python-socketio 5.10 that is a coroutine, so the client
never joined the room named after its session, where the bot's replies are sent,
and never got a reply (RasaHQ/rasa#13027, ADR 0011).

Both are enabled in ``bot/credentials.yml``, beside Rasa's standard ``rest`` channel.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import uuid
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from rasa.core.lock_store import LockError
from rasa.shared.core.events import ActionExecuted, ConversationResumed
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from api import signing  # standard library only
from bot import speedups
from bot.messages import normalise_message, payload_with_language
from bot.retention import UnsupportedTrackerStoreError, forget_idle

logger = logging.getLogger(__name__)

speedups.install()

#: The variable holding the secret shared with the API (the API's default in development).
SECRET_VARIABLE = "GUICHET_WEBHOOK_SECRET"
ACTION_LISTEN = "action_listen"


def webhook_secret() -> str:
    """The secret shared with the Guichet API (``GUICHET_WEBHOOK_SECRET``), read at each call."""
    return os.environ.get(SECRET_VARIABLE, signing.DEFAULT_WEBHOOK_SECRET)


def conversation_to_resume(body: bytes) -> str | None:
    """The ``conversation_id`` of a resume request's JSON body, or None when the body is not one."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    conversation_id = parsed.get("conversation_id") if isinstance(parsed, dict) else None
    return conversation_id if isinstance(conversation_id, str) and conversation_id.strip() else None


def idle_days_to_forget(body: bytes) -> int | None:
    """The ``idle_days`` of a forget request's JSON body (an integer, at least 1), else None."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return None
    idle_days = parsed.get("idle_days") if isinstance(parsed, dict) else None
    valid = isinstance(idle_days, int) and not isinstance(idle_days, bool) and idle_days >= 1
    return idle_days if valid else None


def signature_refused(request: Request, route: str) -> HTTPResponse | None:
    """The 401 answer to a request whose body is not signed with the shared secret, or None when it is."""
    if signing.verify(webhook_secret(), request.body or b"", request.headers.get(signing.SIGNATURE_HEADER)):
        return None
    logger.warning("guichet channel: %s refused, missing or invalid signature", route)
    detail = f"missing or invalid {signing.SIGNATURE_HEADER}: sign the raw body with the shared secret"
    return response.json({"detail": detail}, status=401)


def ready_agent(request: Request) -> Any | None:
    """Rasa's agent (``app.ctx.agent``) once its model is loaded, else None."""
    agent = getattr(request.app.ctx, "agent", None)
    return agent if agent is not None and agent.is_ready() else None


async def resume_conversation(agent: Any, conversation_id: str) -> bool:
    """Gives a conversation back to the bot: appends ``ConversationResumed`` to its tracker and saves it.

    Done as Rasa's ``POST /conversations/<id>/tracker/events`` does, under the lock store's lock of the
    conversation. When the tracker's latest action is not ``action_listen`` (``action_handoff`` paused it
    before any was predicted), ``action_listen`` is appended too, so the citizen's next message is a new
    turn for the rules. A conversation Rasa does not know is left alone (nothing to resume).

    Args:
        agent: Rasa's loaded agent (``app.ctx.agent``).
        conversation_id: The conversation (Rasa's sender id).

    Returns:
        Whether the tracker was paused.
    """
    async with agent.lock_store.lock(conversation_id):
        if await agent.tracker_store.retrieve(conversation_id) is None:
            return False
        processor = agent.processor
        tracker = await processor.fetch_tracker_with_initial_session(conversation_id)
        was_paused = bool(tracker.is_paused())
        tracker.update(ConversationResumed(), agent.domain)
        if tracker.latest_action_name != ACTION_LISTEN:
            tracker.update(ActionExecuted(ACTION_LISTEN), agent.domain)
        await processor.save_tracker(tracker)
    return was_paused


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
        """Routes: ``GET /`` (health), ``POST /webhook`` (one user message), signed ``POST /resume`` and
        ``POST /forget`` (from the API)."""
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

        @webhook.route("/resume", methods=["POST"])
        async def resume(request: Request) -> HTTPResponse:
            refused = signature_refused(request, "resume")
            if refused is not None:
                return refused
            conversation_id = conversation_to_resume(request.body or b"")
            if conversation_id is None:
                return response.json({"detail": "expected {'conversation_id': str}"}, status=400)
            agent = ready_agent(request)
            if agent is None:
                return response.json({"detail": "no model loaded yet"}, status=503)
            try:
                was_paused = await resume_conversation(agent, conversation_id)
            except LockError:
                logger.error("guichet channel: %s is busy, cannot resume it", conversation_id)
                return response.json({"detail": "the conversation is busy, try again"}, status=503)
            logger.info(
                "guichet channel: conversation %s resumed (was paused: %s)", conversation_id, was_paused
            )
            return response.json({"resumed": True, "was_paused": was_paused})

        @webhook.route("/forget", methods=["POST"])
        async def forget(request: Request) -> HTTPResponse:
            refused = signature_refused(request, "forget")
            if refused is not None:
                return refused
            idle_days = idle_days_to_forget(request.body or b"")
            if idle_days is None:
                return response.json({"detail": "expected {'idle_days': int >= 1}"}, status=400)
            agent = ready_agent(request)
            if agent is None:
                return response.json({"detail": "no model loaded yet"}, status=503)
            try:
                forgotten = await forget_idle(agent.tracker_store, idle_days)
            except UnsupportedTrackerStoreError as error:
                logger.error("guichet channel: cannot forget idle conversations: %s", error)
                return response.json({"detail": str(error)}, status=501)
            logger.info("guichet channel: forgot %d tracker(s) idle for %d days", forgotten, idle_days)
            return response.json({"forgotten": forgotten})

        return webhook


class GuichetSocketIOInput(SocketIOInput):
    """Rasa's ``socketio`` channel, whose clients do join the room of their session.

    Enabled in ``bot/credentials.yml`` as ``bot.channels.GuichetSocketIOInput`` with the credentials of Rasa's
    ``socketio`` channel. Its name stays ``socketio`` (its health route is ``/webhooks/socketio/`` and
    trackers record ``socketio`` as the input channel).
    """

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Rasa's blueprint, its ``session_request`` handler replaced by one that awaits ``enter_room``."""
        socketio_webhook = super().blueprint(on_new_message)
        sio = self.sio  # the server Rasa's blueprint has just made and registered its handlers on
        if sio is None:
            raise RuntimeError("Rasa's SocketIOInput.blueprint made no socket.io server")

        # python-socketio keeps one handler per event and namespace: this one replaces Rasa's. It is
        # Rasa's handler with the ``await``. Wrapping Rasa's instead would not do: it would still call
        # ``enter_room`` without awaiting it (a coroutine never run, with a RuntimeWarning), and it
        # confirms the session before the room could be joined.
        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: dict[str, Any] | None) -> None:
            data = data if data is not None else {}
            if data.get("session_id") is None:
                data["session_id"] = uuid.uuid4().hex
            if self.session_persistence:
                # Joined before the confirmation: replies to a message sent after it reach this client.
                await sio.enter_room(sid, data["session_id"])
            await sio.emit("session_confirm", data["session_id"], room=sid)
            logger.debug("socketio channel: %s joined session %s", sid, data["session_id"])

        return socketio_webhook
