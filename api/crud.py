"""Data access: the functions that read and write the tables, apart from the routes.

Each function takes a ``Session`` first and is blocking: call it from a plain ``def`` route (with
``SessionDep``) or from async code through ``await Database.run(crud.function, ...)``. Functions that write
commit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.models import Author, Conversation, ConversationMode, Message, utcnow

_CONVERSATION_ID = re.compile(r"[0-9a-f]{32}")
"""The form of every conversation id (uuid4 hex); other strings are not looked up."""


@dataclass(frozen=True)
class NewMessage:
    """A message to store.

    Attributes:
        author: Who wrote it.
        text: Its text.
        buttons: Quick replies, ``[{"title": str, "payload": str}]``.
        source: The knowledge-base entry it answers from, ``{"slug", "title", "url"}``, or None.
        language: Its language, if known.
    """

    author: Author
    text: str
    buttons: list[dict[str, Any]] = field(default_factory=list)
    source: dict[str, Any] | None = None
    language: str | None = None


class ConversationNotFound(LookupError):  # noqa: N818 (reads as a sentence: raise ConversationNotFound)
    """There is no conversation with this id."""


def hash_token(token: str) -> str:
    """Return the SHA-256 (hex) under which a conversation token is stored.

    Args:
        token: The bearer token.

    Returns:
        64 hexadecimal characters.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def token_matches(conversation: Conversation, token: str) -> bool:
    """Check a bearer token against a conversation, in constant time.

    Args:
        conversation: The conversation.
        token: The token presented.

    Returns:
        True when the token is the conversation's.
    """
    return hmac.compare_digest(hash_token(token), conversation.token_hash)


def create_conversation(
    session: Session, *, language: str, language_known: bool = True
) -> tuple[Conversation, str]:
    """Create a conversation in bot mode and commit it.

    Args:
        session: The database session.
        language: The conversation's language, ``fr`` or ``en``.
        language_known: False when ``language`` is only the commune's default (the citizen chose none).

    Returns:
        The conversation and its bearer token (stored only as a hash: it cannot be shown again).
    """
    token = secrets.token_urlsafe(32)
    now = utcnow()
    conversation = Conversation(
        id=uuid.uuid4().hex,
        token_hash=hash_token(token),
        language=language,
        language_known=language_known,
        mode=ConversationMode.BOT.value,
        created_at=now,
        updated_at=now,
    )
    session.add(conversation)
    session.commit()
    return conversation, token


def get_conversation(
    session: Session, conversation_id: str, *, for_update: bool = False
) -> Conversation | None:
    """Return a conversation.

    Args:
        session: The database session.
        conversation_id: The conversation's id.
        for_update: Lock its row until the transaction ends (``SELECT ... FOR UPDATE`` on PostgreSQL;
            SQLite's transactions already hold the database's write lock).

    Returns:
        The conversation, or None if there is none with this id.
    """
    if not _CONVERSATION_ID.fullmatch(conversation_id):
        return None
    return session.get(Conversation, conversation_id, with_for_update=for_update)


def require_conversation(session: Session, conversation_id: str, *, for_update: bool = False) -> Conversation:
    """Return a conversation that must exist.

    Args:
        session: The database session.
        conversation_id: The conversation's id.
        for_update: Lock its row until the transaction ends (see ``get_conversation``).

    Returns:
        The conversation.

    Raises:
        ConversationNotFound: There is no conversation with this id.
    """
    conversation = get_conversation(session, conversation_id, for_update=for_update)
    if conversation is None:
        raise ConversationNotFound(conversation_id)
    return conversation


def append_messages(
    session: Session, conversation: Conversation, messages: Sequence[NewMessage]
) -> list[Message]:
    """Add messages to a conversation, numbered after its last one, without committing.

    The caller holds the conversation's row lock (``get_conversation(..., for_update=True)``), so that two
    writers cannot number their messages alike; the unique ``(conversation_id, seq)`` constraint is the
    backstop (``IntegrityError``).

    Args:
        session: The database session.
        conversation: The conversation, locked.
        messages: The messages, in order (possibly none).

    Returns:
        The new messages with their ``seq`` (flushed, not committed).
    """
    last_seq = session.scalar(
        select(func.coalesce(func.max(Message.seq), 0)).where(Message.conversation_id == conversation.id)
    )
    now = utcnow()
    stored = [
        Message(
            conversation_id=conversation.id,
            seq=(last_seq or 0) + offset,
            author=message.author.value,
            text=message.text,
            buttons=list(message.buttons),
            source=message.source,
            language=message.language,
            created_at=now,
        )
        for offset, message in enumerate(messages, start=1)
    ]
    session.add_all(stored)
    conversation.updated_at = now
    session.flush()
    return stored


def add_messages(
    session: Session,
    conversation_id: str,
    messages: Sequence[NewMessage],
    *,
    language: str | None = None,
    language_of: Sequence[int] = (),
) -> tuple[Conversation, list[Message]]:
    """Append messages to a conversation, numbered after its last one, and commit.

    The conversation's row is locked meanwhile, so that the citizen's turn, the bot and an agent writing at
    the same time number their messages one after the other.

    Args:
        session: The database session.
        conversation_id: The conversation's id.
        messages: The messages, in order (possibly none).
        language: The conversation's language as the bot recognised it, set in the same transaction (the
            language is then known).
        language_of: Ids of stored messages whose language becomes ``language`` (e.g. the citizen's message
            once the bot has recognised its language).

    Returns:
        The conversation as it is after the commit, and the stored messages with their ``seq``.

    Raises:
        ConversationNotFound: There is no such conversation.
    """
    conversation = require_conversation(session, conversation_id, for_update=True)
    stored = append_messages(session, conversation, messages)
    if language is not None:
        conversation.language = language
        conversation.language_known = True
        if language_of:
            session.execute(update(Message).where(Message.id.in_(language_of)).values(language=language))
    session.commit()
    return conversation, stored


def set_language(session: Session, conversation_id: str, language: str) -> Conversation:
    """Set the language the citizen chose (e.g. with the widget's language switch); it is then known.

    Args:
        session: The database session.
        conversation_id: The conversation.
        language: ``fr`` or ``en``.

    Returns:
        The conversation after the commit.

    Raises:
        ConversationNotFound: There is no such conversation.
    """
    conversation = require_conversation(session, conversation_id, for_update=True)
    conversation.language = language
    conversation.language_known = True
    session.commit()
    return conversation


def list_messages(
    session: Session, conversation_id: str, *, after: int = 0, limit: int | None = None
) -> list[Message]:
    """Return the messages of a conversation numbered after ``after``, in order.

    Args:
        session: The database session.
        conversation_id: The conversation's id.
        after: Return only messages with ``seq > after``.
        limit: Return at most this many.

    Returns:
        The messages, by increasing ``seq``.
    """
    query = (
        select(Message)
        .where(Message.conversation_id == conversation_id, Message.seq > after)
        .order_by(Message.seq)
        .limit(limit)
    )
    return list(session.scalars(query))
