"""Request and response bodies of the HTTP API (see CONTRACT.md for the shapes users rely on)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.config import Language
from api.models import MAX_SLUG_LENGTH

MAX_MESSAGE_LENGTH = 2000
"""Longest citizen message, in characters, after stripping surrounding blanks."""
MAX_COMMENT_LENGTH = 2000
"""Longest comment, question or note, in characters, after stripping surrounding blanks."""
MAX_REASON_LENGTH = 64
"""Longest reason of a handoff, in characters."""
MAX_SEQ = 2**31 - 1
"""Largest message number a request may name (the database's integer)."""

Mode = Literal["bot", "waiting", "agent"]
AuthorName = Literal["citizen", "bot", "agent", "system"]
HandoffStatusName = Literal["waiting", "active", "closed"]
CheckState = str
"""``"ok"`` or a short reason why a health check fails."""


def clean_text(value: str, *, max_length: int) -> str:
    """Strip surrounding blanks from a text field and check it can be stored.

    Args:
        value: The text received.
        max_length: Most characters allowed, surrounding blanks not counted.

    Returns:
        The stripped text (possibly empty).

    Raises:
        ValueError: The text holds a NUL character (PostgreSQL cannot store it) or is too long.
    """
    if "\x00" in value:
        raise ValueError("must not contain the NUL character")
    value = value.strip()
    if len(value) > max_length:
        raise ValueError(f"must be at most {max_length} characters (got {len(value)})")
    return value


def _required_text(max_length: int) -> AfterValidator:
    """Validate a text that must not be blank: stripped, at most ``max_length`` characters."""

    def check(value: str) -> str:
        value = clean_text(value, max_length=max_length)
        if not value:
            raise ValueError("must not be empty")
        return value

    return AfterValidator(check)


def _optional_text(max_length: int) -> AfterValidator:
    """Validate a text that may be null: stripped, blank read as null, at most ``max_length`` characters."""

    def check(value: str | None) -> str | None:
        return None if value is None else clean_text(value, max_length=max_length) or None

    return AfterValidator(check)


OptionalText = Annotated[str | None, _optional_text(MAX_COMMENT_LENGTH)]
"""A comment, question or note: null, or 1 to ``MAX_COMMENT_LENGTH`` characters (blank reads as null)."""
OptionalSlug = Annotated[str | None, _optional_text(MAX_SLUG_LENGTH)]
"""The slug of a knowledge-base entry, or null."""


class ConversationCreate(BaseModel):
    """Body of ``POST /api/conversations`` (optional)."""

    model_config = ConfigDict(extra="ignore")

    language: Language | None = Field(
        default=None, description="Language the citizen chose; the default language of the commune if null."
    )


class ConversationCreated(BaseModel):
    """Answer of ``POST /api/conversations``."""

    id: str = Field(description="Identifier of the conversation.")
    token: str = Field(
        description="Bearer token authorising every later call on the conversation; shown only once."
    )


class MessageCreate(BaseModel):
    """Body of ``POST /api/conversations/{id}/messages``: the citizen's text, or a button's payload."""

    model_config = ConfigDict(extra="ignore")

    text: Annotated[str, _required_text(MAX_MESSAGE_LENGTH)] = Field(
        description=f"1 to {MAX_MESSAGE_LENGTH} characters, surrounding blanks not counted."
    )


class Button(BaseModel):
    """A quick reply: show ``title``; send ``payload`` back as the message text when chosen."""

    title: str
    payload: str


class Source(BaseModel):
    """The knowledge-base entry a bot message answers from."""

    slug: str
    title: str
    url: str | None = None


class MessageOut(BaseModel):
    """A message of a conversation, as the widget shows it."""

    seq: int = Field(description="Position in the conversation, from 1.")
    author: AuthorName
    text: str
    buttons: list[Button] = Field(default_factory=list)
    source: Source | None = None
    created_at: datetime = Field(description="ISO 8601, UTC.")


class TurnOut(BaseModel):
    """Answer of ``POST /api/conversations/{id}/messages``: the bot's replies, if it has the conversation."""

    mode: Mode
    language: Language
    messages: list[MessageOut]


class FeedbackCreate(BaseModel):
    """Body of ``POST /api/conversations/{id}/feedback``: the citizen's verdict on a bot message."""

    model_config = ConfigDict(extra="ignore")

    seq: int = Field(ge=1, le=MAX_SEQ, description="`seq` of the bot message judged.")
    helpful: bool = Field(description="Whether the answer helped.")
    comment: OptionalText = Field(
        default=None, description=f"What the citizen adds, at most {MAX_COMMENT_LENGTH} characters."
    )


class HandoffRequest(BaseModel):
    """Body of ``POST /api/webhooks/handoff``: the bot hands a conversation over to the human agents."""

    model_config = ConfigDict(extra="ignore")

    conversation_id: str = Field(description="The conversation (Rasa's sender id).")
    language: Language | None = Field(
        default=None, description="Language the citizen speaks; the conversation's if null."
    )
    reason: Annotated[str, _required_text(MAX_REASON_LENGTH)] = Field(
        description=f"Why, in a word (1 to {MAX_REASON_LENGTH} characters).",
        examples=["requested", "not_helpful", "frustration", "unsure"],
    )
    note: OptionalText = Field(default=None, description="What the bot tells the agents, if anything.")


class HandoffQueued(BaseModel):
    """Answer of ``POST /api/webhooks/handoff``: the conversation's open handoff."""

    handoff_id: str
    status: HandoffStatusName
    queue_position: int = Field(
        description="Place among the waiting handoffs, oldest first, from 1; 0 once an agent has it."
    )


class BotFeedback(BaseModel):
    """Body of ``POST /api/webhooks/feedback``: a verdict the citizen gave the bot on its latest answer."""

    model_config = ConfigDict(extra="ignore")

    conversation_id: str = Field(description="The conversation (Rasa's sender id).")
    helpful: bool = Field(description="Whether the answer helped.")
    slug: OptionalSlug = Field(
        default=None, description="The knowledge-base entry judged; that of the latest answer if null."
    )
    question: OptionalText = Field(
        default=None, description="The citizen's question it answered; found from the messages if null."
    )
    comment: OptionalText = Field(default=None, description="What the citizen added, if anything.")
    language: Language | None = Field(
        default=None, description="Language of the answer; that of the latest answer if null."
    )


class ErrorOut(BaseModel):
    """An error: ``detail`` says what went wrong, in words."""

    detail: str


class HealthOut(BaseModel):
    """Answer of ``GET /health``."""

    status: Literal["ok", "unavailable"]
    checks: dict[str, CheckState] = Field(
        description='Each component: "ok", or a short reason why it is not ready.',
        examples=[{"rasa": "ok", "actions": "ok", "database": "ok", "knowledge_base": "ok"}],
    )
