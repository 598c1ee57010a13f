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
        CheckConstraint("language IN ('fr', 'en')", name="language"),
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
    source: Mapped[dict[str, Any] | None] = mapped_column(JSON(), nullable=True)
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
