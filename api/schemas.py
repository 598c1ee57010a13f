"""Request and response bodies of the HTTP API (see CONTRACT.md for the shapes users rely on)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.config import Language

MAX_MESSAGE_LENGTH = 2000
"""Longest citizen message, in characters, after stripping surrounding blanks."""

Mode = Literal["bot", "waiting", "agent"]
AuthorName = Literal["citizen", "bot", "agent", "system"]
CheckState = str
"""``"ok"`` or a short reason why a health check fails."""


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

    text: str = Field(description=f"1 to {MAX_MESSAGE_LENGTH} characters, surrounding blanks not counted.")

    @field_validator("text")
    @classmethod
    def _strip_and_check_length(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain the NUL character")
        value = value.strip()
        if not value:
            raise ValueError("must not be empty")
        if len(value) > MAX_MESSAGE_LENGTH:
            raise ValueError(f"must be at most {MAX_MESSAGE_LENGTH} characters (got {len(value)})")
        return value


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
