"""One turn of a conversation: store the citizen's message, route it, store the answers.

The citizen's message is committed before anything else, so that it survives whatever happens next. In bot
mode the message goes to Rasa; in ``waiting`` and ``agent`` modes it goes to the human agents (stored, then
pushed to their desks), and the turn has no bot messages (only, for a ticket, an acknowledgement). Every
stored message is then pushed to the conversation's other open widgets too.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from dataclasses import dataclass

from api import crud
from api.db import Database
from api.desk import Desk
from api.models import Author, Conversation, ConversationMode, Message
from api.rasa_client import RasaClient, turn_language

logger = logging.getLogger(__name__)


class ConversationLocks:
    """In-process locks serialising the turns of each conversation, so that messages keep their order.

    A lock lives while some turn holds or awaits it, then disappears (weak references), so the registry does
    not grow with the number of conversations.

    Note:
        Anything that runs while a turn holds the lock (e.g. a webhook the action server calls during the
        turn) must not wait for the same lock.
    """

    def __init__(self) -> None:
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    def __call__(self, conversation_id: str) -> asyncio.Lock:
        """Return the lock of a conversation.

        Args:
            conversation_id: The conversation's id.

        Returns:
            The same lock for every caller while any of them holds a reference to it.
        """
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[conversation_id] = lock
        return lock

    def __len__(self) -> int:
        """Return the number of live locks."""
        return len(self._locks)


@dataclass(frozen=True)
class TurnResult:
    """What a turn produced.

    Attributes:
        mode: The conversation's mode after the turn.
        language: The language of the turn.
        citizen_message: The citizen's stored message.
        messages: The bot's stored messages, or the notices the citizen gets while agents have it.
    """

    mode: str
    language: str
    citizen_message: Message
    messages: list[Message]


async def take_turn(
    db: Database,
    conversation: Conversation,
    text: str,
    *,
    rasa: RasaClient,
    locks: ConversationLocks,
    desk: Desk,
) -> TurnResult:
    """Store a citizen's message, have the bot answer it if the bot has the conversation, store the answers.

    Args:
        db: The database.
        conversation: The (authenticated) conversation.
        text: The citizen's text, already validated.
        rasa: The Rasa client.
        locks: The per-conversation locks.
        desk: The agents' desk (routing to agents, live announcements).

    Returns:
        The mode and language after the turn, and the stored messages.

    Raises:
        RasaUnavailable: Rasa could not answer; the citizen's message is stored all the same.
    """
    async with locks(conversation.id):
        conversation, (citizen_message,) = await db.run(
            crud.add_messages, conversation.id, [crud.NewMessage(author=Author.CITIZEN, text=text)]
        )
        if conversation.mode != ConversationMode.BOT.value:
            logger.info(
                "Conversation %s is in %s mode: message for the agents", conversation.id, conversation.mode
            )
            notices = await desk.citizen_wrote(conversation, citizen_message)
            return TurnResult(conversation.mode, conversation.language, citizen_message, notices)

        started = time.perf_counter()
        hint = conversation.language if conversation.language_known else None
        replies = await rasa.send(conversation.id, text, hint)
        logger.info(
            "Conversation %s: %d replies from Rasa in %.0f ms",
            conversation.id,
            len(replies),
            (time.perf_counter() - started) * 1000,
        )

        language = turn_language(replies, conversation.language)
        recognised = any(reply.language is not None for reply in replies)
        # The conversation comes back as stored now: a handoff during the turn may have changed its mode.
        conversation, bot_messages = await db.run(
            crud.add_messages,
            conversation.id,
            [
                crud.NewMessage(
                    author=Author.BOT,
                    text=reply.text,
                    buttons=[button.model_dump() for button in reply.buttons],
                    source=reply.source.model_dump() if reply.source is not None else None,
                    language=reply.language or language,
                )
                for reply in replies
            ],
            language=language if recognised else None,
            language_of=[citizen_message.id] if recognised else [],
        )
        if recognised:
            citizen_message.language = language
        await desk.announce_turn(conversation, [citizen_message, *bot_messages])
        return TurnResult(conversation.mode, language, citizen_message, bot_messages)
