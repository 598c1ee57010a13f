"""Request and response bodies of the HTTP API (see CONTRACT.md for the shapes users rely on)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from api.config import Language
from api.models import MAX_SLUG_LENGTH, Message

MAX_MESSAGE_LENGTH = 2000
"""Longest citizen message, in characters, after stripping surrounding blanks."""
MAX_COMMENT_LENGTH = 2000
"""Longest comment, question or note, in characters, after stripping surrounding blanks."""
MAX_REASON_LENGTH = 64
"""Longest reason of a handoff, in characters."""
MAX_TRANSCRIPT_LINES = 200
"""Most lines of a bot's transcript a handoff request may carry."""
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


class ConversationUpdate(BaseModel):
    """Body of ``PATCH /api/conversations/{id}``: the language the citizen switched to."""

    model_config = ConfigDict(extra="ignore")

    language: Language = Field(description="The bot answers in this language from now on.")


class ConversationOut(BaseModel):
    """A conversation, as its citizen may read it."""

    id: str
    language: Language
    mode: Mode


class WidgetConfig(BaseModel):
    """Answer of ``GET /api/widget/config``: what the chat widget shows before the first message."""

    default_language: Language = Field(description="The commune's language for a citizen who chose none.")
    languages: list[Language] = Field(description="The languages the assistant speaks.")
    retention_days: int = Field(
        description="Conversations with no activity for this many days are deleted (the privacy notice)."
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
    language: Language | None = Field(default=None, description="Language of the text, when known.")
    created_at: datetime = Field(description="ISO 8601, UTC.")

    @classmethod
    def of(cls, message: Message) -> MessageOut:
        """Return the public form of a stored message."""
        return cls.model_validate(
            {
                "seq": message.seq,
                "author": message.author,
                "text": message.text,
                "buttons": message.buttons or [],
                "source": message.source,
                "language": message.language,
                "created_at": message.created_at,
            }
        )


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


class BotTranscriptLine(BaseModel):
    """One line of the conversation as the bot saw it."""

    model_config = ConfigDict(extra="ignore")

    author: Literal["citizen", "bot"]
    text: Annotated[str, AfterValidator(lambda value: clean_text(value, max_length=MAX_MESSAGE_LENGTH * 4))]


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
    transcript: list[BotTranscriptLine] = Field(
        default_factory=list,
        max_length=MAX_TRANSCRIPT_LINES,
        description="The conversation as the bot saw it, oldest first.",
    )


class HandoffQueued(BaseModel):
    """Answer of ``POST /api/webhooks/handoff``: the open handoff, and what the citizen can expect."""

    handoff_id: str
    status: HandoffStatusName
    queue_position: int = Field(
        description="Place among the waiting handoffs, oldest first, from 1; 0 once an agent has it."
    )
    estimated_wait_seconds: int | None = Field(
        default=None, description="Estimated wait from recent handling times; null without recent history."
    )
    available: bool = Field(
        description="Whether an agent can answer now; false makes the handoff a ticket (leave a message)."
    )
    unavailable_reason: Literal["closed", "no_agent"] | None = Field(
        default=None, description="Why no agent can answer now: outside office hours, or nobody online."
    )
    office_hours: str = Field(description="The office hours, described in the citizen's language.")


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


class TranscriptMessage(BaseModel):
    """A message of a handed-off conversation, as the agents see it."""

    seq: int
    author: AuthorName
    text: str
    created_at: datetime

    @classmethod
    def of(cls, message: Message) -> TranscriptMessage:
        """Return a stored message as the agents see it."""
        return cls.model_validate(
            {
                "seq": message.seq,
                "author": message.author,
                "text": message.text,
                "created_at": message.created_at,
            }
        )


class HandoffOut(BaseModel):
    """A handoff, as the agents' desk shows it."""

    id: str
    conversation_id: str
    status: HandoffStatusName
    language: Language
    reason: str = Field(description="requested, misunderstood, not_helpful, frustration…")
    kind: Literal["live", "ticket"] = Field(description="ticket: left while no agent was available.")
    contact: str | None = Field(description="The e-mail address or phone number the citizen left.")
    note: str | None
    created_at: datetime
    claimed_at: datetime | None
    closed_at: datetime | None
    waited_seconds: int = Field(description="From the request until an agent claimed it (or until now).")
    assignee: str | None = Field(description="Username of the agent who has it.")
    assignee_name: str | None = Field(description="That agent's display name.")
    transcript: list[TranscriptMessage] = Field(
        description="The conversation's messages (the last ones only in lists)."
    )


class AgentMessageCreate(BaseModel):
    """Body of ``POST /api/handoffs/{id}/messages``."""

    model_config = ConfigDict(extra="ignore")

    text: Annotated[str, _required_text(MAX_MESSAGE_LENGTH)] = Field(
        description=f"1 to {MAX_MESSAGE_LENGTH} characters."
    )


class HandoffClose(BaseModel):
    """Body of ``POST /api/handoffs/{id}/close``."""

    model_config = ConfigDict(extra="ignore")

    resume_bot: bool = Field(
        default=True,
        description="Whether the assistant takes the conversation back, saying so in the citizen's language.",
    )


class CannedResponse(BaseModel):
    """A ready-made reply for agents."""

    title: str
    text: str


class LoginRequest(BaseModel):
    """Body of ``POST /api/auth/login``."""

    model_config = ConfigDict(extra="ignore")

    username: Annotated[str, Field(min_length=1, max_length=150)]
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class StaffOut(BaseModel):
    """The signed-in staff member."""

    username: str
    display_name: str
    role: Literal["agent", "editor", "admin"]
    expires_at: datetime = Field(description="When the session ends (ISO 8601, UTC).")


class LoginOut(StaffOut):
    """Answer of ``POST /api/auth/login``; the token also comes as an HttpOnly cookie."""

    token: str = Field(
        description="Session token, for `Authorization: Bearer TOKEN` or `?token=` on WebSockets."
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
