"""The agents' desk at work: each handoff change stored first (``api.handoffs``), then announced live.

``Desk`` is what the routes and the turns call. Every method commits its change in the database before it
publishes anything (``api.events``): the citizen's widget gets the messages and the status, the agents'
desks get the handoff and the messages. A client that missed an event finds the same in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from api import accounts, crud, handoffs
from api.accounts import Staff
from api.config import Settings
from api.db import Database
from api.events import AGENTS, Broker, Event, conversation_channel
from api.models import (
    Author,
    Conversation,
    ConversationMode,
    Handoff,
    HandoffKind,
    HandoffStatus,
    Message,
    utcnow,
)
from api.office_hours import OfficeHours
from api.rasa_client import RasaClient
from api.schemas import HandoffOut, HandoffQueued, HandoffRequest, MessageOut, TranscriptMessage

logger = logging.getLogger(__name__)


def readable_transcript(messages: Sequence[Message]) -> list[TranscriptMessage]:
    """Return messages as the agents read them: a button the citizen clicked shows as its title.

    A click is stored as the button's payload (``/affirm``, ``/ask_procedure{"procedure": "passport"}``),
    which is what the bot understands; agents see the words the citizen chose (``Oui, merci``).
    """
    readable: list[TranscriptMessage] = []
    titles: dict[str, str] = {}
    for message in messages:
        shown = TranscriptMessage.of(message)
        if message.author == Author.CITIZEN.value and message.text in titles:
            shown = shown.model_copy(update={"text": titles[message.text]})
        if message.author == Author.BOT.value:
            titles = {button["payload"]: button["title"] for button in message.buttons or []}
        readable.append(shown)
    return readable


def _waited_seconds(handoff: Handoff, now: datetime) -> int:
    until = handoff.claimed_at or handoff.closed_at or now
    return max(0, int((until - handoff.created_at).total_seconds()))


def handoff_views(session: Session, found: Sequence[Handoff], *, last: int | None) -> list[HandoffOut]:
    """Return handoffs as the desk shows them, with their transcripts (or only their ``last`` messages)."""
    names = handoffs.display_names(session, [handoff.assignee for handoff in found])
    now = utcnow()
    return [
        HandoffOut.model_validate(
            {
                "id": handoff.id,
                "conversation_id": handoff.conversation_id,
                "status": handoff.status,
                "language": handoff.language,
                "reason": handoff.reason,
                "kind": handoff.kind,
                "contact": handoff.contact,
                "note": handoff.note,
                "created_at": handoff.created_at,
                "claimed_at": handoff.claimed_at,
                "closed_at": handoff.closed_at,
                "waited_seconds": _waited_seconds(handoff, now),
                "assignee": handoff.assignee,
                "assignee_name": names.get(handoff.assignee or ""),
                "transcript": readable_transcript(
                    handoffs.transcript(session, handoff.conversation_id, last=last)
                ),
            }
        )
        for handoff in found
    ]


def handoff_view(session: Session, handoff_id: str, *, last: int | None = None) -> HandoffOut:
    """Return one handoff with its whole transcript (or only its ``last`` messages).

    Raises:
        HandoffNotFound: No such handoff.
    """
    [view] = handoff_views(session, [handoffs.require_handoff(session, handoff_id)], last=last)
    return view


def list_views(session: Session, status: HandoffStatus, query: str | None, limit: int) -> list[HandoffOut]:
    """Return the handoffs of a status, with the last messages of their transcripts."""
    found = handoffs.list_handoffs(session, status, query=query, limit=limit)
    return handoff_views(session, found, last=handoffs.PREVIEW_MESSAGES)


def _availability(session: Session, office: OfficeHours) -> tuple[str | None, int]:
    """Return why no agent can answer now (``closed``, ``no_agent``) or None, and how many are online."""
    online = accounts.agents_online(session)
    if not office.is_open(utcnow()):
        return "closed", online
    if online == 0:
        return "no_agent", online
    return None, online


class Desk:
    """Handoff changes, stored then announced.

    Args:
        db: The database.
        broker: Where live events go.
        rasa: The Rasa client (to record that the bot has a conversation back).
        settings: The settings (office hours, webhook secret).
    """

    def __init__(self, db: Database, broker: Broker, rasa: RasaClient, settings: Settings) -> None:
        self.db = db
        self.broker = broker
        self.rasa = rasa
        self.settings = settings
        self.office = settings.office()

    # --- announcements -------------------------------------------------------------------------------

    async def announce_messages(
        self, conversation_id: str, messages: Sequence[Message], handoff_id: str | None
    ) -> None:
        """Push stored messages to the conversation's widget and, when it is handed off, to the desks.

        Args:
            conversation_id: The conversation.
            messages: Its new messages, in order.
            handoff_id: Its open handoff, or None while the bot has it (the desks are not told).
        """
        for message in messages:
            event: Event = {"type": "message", "message": MessageOut.of(message).model_dump(mode="json")}
            await self.broker.publish(conversation_channel(conversation_id), event)
            if handoff_id is not None:
                await self.broker.publish(
                    AGENTS,
                    {
                        "type": "message",
                        "handoff_id": handoff_id,
                        "conversation_id": conversation_id,
                        "message": TranscriptMessage.of(message).model_dump(mode="json"),
                    },
                )

    async def announce_turn(self, conversation: Conversation, messages: Sequence[Message]) -> None:
        """Push a bot turn's messages; to the desks too when the turn handed the conversation over."""
        handoff = None
        if conversation.mode != ConversationMode.BOT.value:
            handoff = await self.db.run(handoffs.open_handoff, conversation.id)
        await self.announce_messages(conversation.id, messages, handoff.id if handoff is not None else None)

    async def announce_handoff(self, event: str, handoff_id: str) -> None:
        """Push a handoff, as it now is, to the desks (``waiting``, ``claimed``, ``released``…)."""
        view = await self.db.run(handoff_view, handoff_id, last=handoffs.PREVIEW_MESSAGES)
        await self.broker.publish(
            AGENTS, {"type": "handoff", "event": event, "handoff": view.model_dump(mode="json")}
        )

    async def announce_status(self, conversation_id: str, mode: str, queue_position: int | None) -> None:
        """Push a conversation's mode (and place in the queue while waiting) to its widget."""
        await self.broker.publish(
            conversation_channel(conversation_id),
            {"type": "status", "mode": mode, "queue_position": queue_position},
        )

    async def announce_queue(self) -> None:
        """Push every waiting conversation its (possibly new) place in the queue."""
        for conversation_id, position in await self.db.run(handoffs.waiting_conversations):
            await self.announce_status(conversation_id, "waiting", position)

    # --- the bot hands over --------------------------------------------------------------------------

    async def request(self, body: HandoffRequest) -> HandoffQueued:
        """Open (or find) the conversation's handoff, as a ticket when no agent can answer now.

        Raises:
            ConversationNotFound: No such conversation.
        """

        def open_it(session: Session) -> tuple[Handoff, int, int | None, str | None, bool]:
            conversation = crud.require_conversation(session, body.conversation_id)
            language = body.language or conversation.language
            unavailable, online = _availability(session, self.office)
            kind = HandoffKind.TICKET if unavailable else HandoffKind.LIVE
            opened, new = handoffs.request_handoff(
                session,
                conversation.id,
                reason=body.reason,
                language=language,
                note=body.note,
                transcript=[line.model_dump() for line in body.transcript],
                kind=kind,
            )
            position = handoffs.queue_position(session, opened)
            wait = handoffs.estimated_wait(session, position, online)
            if opened.kind == HandoffKind.LIVE.value:
                unavailable = None
            return opened, position, wait, unavailable, new

        opened, position, wait, unavailable, new = await self.db.run(open_it)
        logger.info(
            "Conversation %s handed off (%s, %s): handoff %s %s, queue position %d",
            opened.conversation_id,
            opened.reason,
            opened.kind,
            opened.id,
            opened.status,
            position,
        )
        if new:
            await self.announce_handoff("waiting", opened.id)
            await self.announce_status(opened.conversation_id, "waiting", position)
        return HandoffQueued.model_validate(
            {
                "handoff_id": opened.id,
                "status": opened.status,
                "queue_position": position,
                "estimated_wait_seconds": wait,
                "available": unavailable is None,
                "unavailable_reason": unavailable,
                "office_hours": self.office.describe(opened.language),
            }
        )

    # --- the citizen writes while the agents have the conversation ---------------------------------

    async def citizen_wrote(self, conversation: Conversation, message: Message) -> list[Message]:
        """Pass a citizen's stored message on to the agents; return the notices the citizen gets back."""
        handoff = await self.db.run(handoffs.open_handoff, conversation.id)
        if handoff is None:
            return []
        changed, notices = await self.db.run(handoffs.citizen_wrote, handoff, message.text)
        await self.announce_messages(conversation.id, [message, *notices], handoff.id)
        if changed:
            await self.announce_handoff("updated", handoff.id)
        return notices

    # --- agents --------------------------------------------------------------------------------------

    async def claim(self, handoff_id: str, agent: Staff) -> HandoffOut:
        """Give a waiting handoff to an agent (see ``handoffs.claim``) and announce it."""
        change = await self.db.run(handoffs.claim, handoff_id, agent)
        if change.notices:
            logger.info("Handoff %s claimed by %s", handoff_id, agent.username)
            await self._announce_change("claimed", change)
        return await self.db.run(handoff_view, handoff_id)

    async def release(self, handoff_id: str, agent: Staff) -> HandoffOut:
        """Put an agent's handoff back in the queue and announce it."""
        change = await self.db.run(handoffs.release, handoff_id, agent)
        logger.info("Handoff %s put back in the queue by %s", handoff_id, agent.username)
        await self._announce_change("released", change)
        return await self.db.run(handoff_view, handoff_id)

    async def close(self, handoff_id: str, agent: Staff, *, resume_bot: bool) -> HandoffOut:
        """Close an agent's handoff, give the conversation back to the bot (Rasa resumes), announce it."""
        change = await self.db.run(handoffs.close, handoff_id, agent, resume_bot=resume_bot)
        logger.info("Handoff %s closed by %s (resume_bot=%s)", handoff_id, agent.username, resume_bot)
        await self.rasa.resume(
            change.handoff.conversation_id, self.settings.webhook_secret.get_secret_value()
        )
        await self._announce_change("closed", change)
        return await self.db.run(handoff_view, handoff_id)

    async def agent_message(self, handoff_id: str, agent: Staff, text: str) -> TranscriptMessage:
        """Store an agent's message to the citizen, then push it to the citizen and the desks."""
        handoff, message = await self.db.run(handoffs.post_agent_message, handoff_id, agent, text)
        await self.announce_messages(handoff.conversation_id, [message], handoff.id)
        return TranscriptMessage.of(message)

    async def _announce_change(self, event: str, change: handoffs.Change) -> None:
        conversation_id = change.handoff.conversation_id
        # Notices first, while the desks still see the handoff as open (a closed one has no messages feed).
        await self.announce_messages(conversation_id, change.notices, change.handoff.id)
        position = await self.db.run(handoffs.queue_position, change.handoff)
        await self.announce_status(conversation_id, change.mode, position or None)
        await self.announce_handoff(event, change.handoff.id)
        await self.announce_queue()
