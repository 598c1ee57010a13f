"""Database tables of the API, as SQLAlchemy 2 typed ORM models.

The schema itself is created by the Alembic migrations in ``api/migrations``; keep both in step (a test
compares them).
"""

from __future__ import annotations

import enum
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class ConversationMode(str, enum.Enum):
    """Who answers the citizen: the bot, nobody yet (waiting for an agent), or a human agent."""

    BOT = "bot"
    WAITING = "waiting"
    AGENT = "agent"


class Author(str, enum.Enum):
    """Who wrote a message."""

    CITIZEN = "citizen"
    BOT = "bot"
    AGENT = "agent"
    SYSTEM = "system"


class HandoffStatus(str, enum.Enum):
    """Where a handoff stands: waiting for an agent, taken by one, or over."""

    WAITING = "waiting"
    ACTIVE = "active"
    CLOSED = "closed"


OPEN_HANDOFF_STATUSES = (HandoffStatus.WAITING.value, HandoffStatus.ACTIVE.value)
"""The statuses of a handoff that is not over; a conversation has at most one such handoff."""


class HandoffKind(str, enum.Enum):
    """How a handoff reached the queue: live (an agent was available) or as a ticket (nobody was)."""

    LIVE = "live"
    TICKET = "ticket"


class Role(str, enum.Enum):
    """What a staff account may do: answer citizens, edit the knowledge base, or both and manage accounts."""

    AGENT = "agent"
    EDITOR = "editor"
    ADMIN = "admin"


class FeedbackSource(str, enum.Enum):
    """Which channel reported a verdict: the widget's buttons, or the bot (the citizen told it)."""

    WIDGET = "widget"
    BOT = "bot"


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware in UTC, SQLite included."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to UTC before storing it; naive datetimes are refused."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use timezone-aware datetimes in UTC")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Mark the stored value as UTC (SQLite forgets the zone) or convert it to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of the models, with constraint names that Alembic can rely on."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _in(column: str, enum_type: type[enum.Enum]) -> str:
    """Return the SQL condition ``column IN ('a', 'b')`` for the values of an enum."""
    values = ", ".join(f"'{member.value}'" for member in enum_type)
    return f"{column} IN ({values})"


MAX_SLUG_LENGTH = 200
"""Longest slug of a knowledge-base entry the feedback table stores."""

LANGUAGE_CHECK = "language IN ('fr', 'en')"
"""The SQL condition on a ``language`` column (true for NULL, as every check)."""


class Conversation(Base):
    """A citizen's conversation, authorised by the bearer token given when it was created.

    Attributes:
        id: Random identifier (uuid4 hex).
        token_hash: SHA-256 (hex) of the conversation's bearer token; the token itself is never stored.
        language: Current language, ``fr`` or ``en``; follows the language the bot last answered in.
        language_known: Whether the citizen chose the language or the bot recognised it; until then
            ``language`` is only the commune's default, and the bot decides from the citizen's first message.
        mode: ``bot``, ``waiting`` or ``agent`` (see ``ConversationMode``).
        created_at: Creation time (UTC).
        updated_at: Time of the last change or message (UTC).
    """

    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint(_in("mode", ConversationMode), name="mode"),
        CheckConstraint(LANGUAGE_CHECK, name="language"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    language_known: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    mode: Mapped[str] = mapped_column(String(16), default=ConversationMode.BOT.value)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Message(Base):
    """One message of a conversation, numbered ``seq`` = 1, 2, 3… within it.

    Attributes:
        id: Database identifier.
        conversation_id: The conversation.
        seq: Position in the conversation, starting at 1; unique within the conversation.
        author: ``citizen``, ``bot``, ``agent`` or ``system`` (see ``Author``).
        text: The text, as shown.
        buttons: Quick replies offered with the message: ``[{"title": str, "payload": str}]``.
        source: The knowledge-base entry a bot message answers from: ``{"slug", "title", "url"}``, or None.
        language: Language of the message, when known.
        created_at: Time the message was stored (UTC).
    """

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "seq"),
        CheckConstraint(_in("author", Author), name="author"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    seq: Mapped[int] = mapped_column(Integer())
    author: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text())
    buttons: Mapped[list[dict[str, Any]]] = mapped_column(JSON(), default=list)
    # none_as_null: None is SQL NULL (not JSON 'null'), so that "has a source" is ``source IS NOT NULL``.
    source: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Handoff(Base):
    """A conversation handed over to the human agents, from the request until an agent closes it.

    Attributes:
        id: Random identifier (uuid4 hex).
        conversation_id: The conversation.
        status: ``waiting``, ``active`` or ``closed`` (see ``HandoffStatus``).
        language: Language the citizen speaks, ``fr`` or ``en``.
        reason: Why the bot handed over, in a word (``requested``, ``not_helpful``, ``frustration``…).
        note: What the bot tells the agents, if anything.
        created_at: Time of the request (UTC); the waiting queue is in this order.
        claimed_at: Time an agent took it (UTC), or None.
        closed_at: Time it was closed (UTC), or None.
        assignee: Username of the agent who has it, or None.
        kind: ``live``, or ``ticket`` when no agent was available (see ``HandoffKind``).
        contact: The e-mail address or phone number the citizen left, or None.
        transcript: The conversation as the bot saw it when it handed over: ``[{"author", "text"}]``.
    """

    __tablename__ = "handoffs"
    __table_args__ = (
        CheckConstraint(_in("status", HandoffStatus), name="status"),
        CheckConstraint(_in("kind", HandoffKind), name="kind"),
        CheckConstraint(LANGUAGE_CHECK, name="language"),
        Index("ix_handoffs_status_created_at", "status", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=HandoffStatus.WAITING.value)
    language: Mapped[str] = mapped_column(String(8))
    reason: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(150), nullable=True)
    kind: Mapped[str] = mapped_column(String(16), default=HandoffKind.LIVE.value, server_default="live")
    contact: Mapped[str | None] = mapped_column(String(320), nullable=True)
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON(), default=list)


class Feedback(Base):
    """A citizen's verdict on an answer of the bot, for the editors of the knowledge base.

    Attributes:
        id: Database identifier.
        conversation_id: The conversation.
        message_seq: ``seq`` of the bot message judged, or None when it is not known.
        slug: The knowledge-base entry the judged message answered from, or None.
        question: The citizen's question that message answered, or None.
        helpful: Whether the answer helped.
        comment: What the citizen added, or None.
        language: Language of the answer, or None.
        source: ``widget`` or ``bot``: the channel that reported it (see ``FeedbackSource``).
        created_at: Time it was reported (UTC).
    """

    __tablename__ = "feedback"
    __table_args__ = (
        CheckConstraint(_in("source", FeedbackSource), name="source"),
        CheckConstraint(LANGUAGE_CHECK, name="language"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    message_seq: Mapped[int | None] = mapped_column(Integer(), nullable=True)
    slug: Mapped[str | None] = mapped_column(String(MAX_SLUG_LENGTH), nullable=True, index=True)
    question: Mapped[str | None] = mapped_column(Text(), nullable=True)
    helpful: Mapped[bool] = mapped_column(Boolean())
    comment: Mapped[str | None] = mapped_column(Text(), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class User(Base):
    """A staff account: an agent, an editor or an administrator.

    Attributes:
        id: Database identifier.
        username: Unique login name (what agents are known by in handoffs).
        display_name: The name citizens and colleagues see.
        role: ``agent``, ``editor`` or ``admin`` (see ``Role``).
        password_hash: Argon2id hash of the password (PHC string); the password itself is never stored.
        active: False once the account is disabled: it can no longer sign in.
        created_at: Creation time (UTC).
        last_seen_at: Last time the account had the agents' desk open (UTC), or None: agents seen in the last
            minute count as online.
    """

    __tablename__ = "users"
    __table_args__ = (CheckConstraint(_in("role", Role), name="role"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    display_name: Mapped[str] = mapped_column(String(150))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class StaffSession(Base):
    """A signed-in staff member's session, authorised by a random token kept only as its SHA-256.

    Attributes:
        token_hash: SHA-256 (hex) of the session token.
        user_id: The account.
        created_at: Sign-in time (UTC).
        expires_at: Time after which the token is refused (UTC).
    """

    __tablename__ = "staff_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
