"""Talking to the Rasa server through the project's ``guichet`` channel.

The channel (``bot/``) answers ``POST {rasa_url}/webhooks/guichet/webhook`` with a JSON list of replies::

    [{"text": str, "buttons": [{"title": str, "payload": str}], "language": "fr"|"en"|null,
      "source": {"slug": str, "title": str, "url": str|null}|null}]

The API's own calls to the channel are signed like the webhooks (``api.signing``): ``POST .../resume`` gives a
conversation back to the bot after a human agent had it, ``POST .../forget`` deletes Rasa's copy of the
conversations idle for the retention period (``api.retention``).
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator, Sequence
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from api import signing
from api.config import Language

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/guichet/webhook"
RESUME_PATH = "/webhooks/guichet/resume"
FORGET_PATH = "/webhooks/guichet/forget"
LANGUAGES: frozenset[str] = frozenset({"fr", "en"})


class RasaUnavailable(Exception):  # noqa: N818 (the name callers know)
    """Rasa could not be reached, timed out, failed, or answered something that is not a list of replies."""


class BotButton(BaseModel):
    """A quick reply offered by the bot."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    title: str
    payload: str


class BotSource(BaseModel):
    """The knowledge-base entry a reply answers from."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    slug: str
    title: str
    url: str | None = None


class BotReply(BaseModel):
    """One message of the bot, as the ``guichet`` channel sends it.

    Attributes:
        text: The text (empty when the bot sent only buttons).
        buttons: Quick replies.
        language: Language of the reply, when the bot knows it; any value but ``fr`` or ``en`` reads as None.
        source: The knowledge-base entry the reply answers from, if any (None when it has no slug; the title
            defaults to the slug).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    text: str = ""
    buttons: list[BotButton] = Field(default_factory=list)
    language: Language | None = None
    source: BotSource | None = None

    @field_validator("text", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("buttons", mode="before")
    @classmethod
    def _none_is_no_buttons(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("source", mode="before")
    @classmethod
    def _usable_source_or_none(cls, value: Any) -> Any:
        if isinstance(value, BotSource):
            return value
        if not isinstance(value, dict) or not isinstance(value.get("slug"), str) or not value["slug"]:
            return None
        title = value.get("title")
        url = value.get("url")
        return {
            "slug": value["slug"],
            "title": title if isinstance(title, str) and title else value["slug"],
            "url": url if isinstance(url, str) and url else None,
        }

    @field_validator("language", mode="before")
    @classmethod
    def _known_language_or_none(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip().lower()
        return value if value in LANGUAGES else None


_REPLIES = TypeAdapter(list[BotReply])


def parse_replies(payload: Any) -> list[BotReply]:
    """Read the channel's answer into replies, dropping replies with neither text nor buttons.

    Args:
        payload: The decoded JSON answer of the channel.

    Returns:
        The replies, in order.

    Raises:
        RasaUnavailable: The answer is not a list of replies.
    """
    try:
        replies = _REPLIES.validate_python(payload)
    except ValidationError as exc:
        raise RasaUnavailable(f"unexpected answer from Rasa: {exc.error_count()} error(s)") from exc
    kept = [reply for reply in replies if reply.text.strip() or reply.buttons]
    if len(kept) < len(replies):
        logger.warning("Dropped %d empty replies from Rasa", len(replies) - len(kept))
    return kept


def turn_language(replies: Sequence[BotReply], default: str) -> str:
    """Return the language of a turn: that of the last reply that states one, else ``default``.

    Args:
        replies: The bot's replies to one message.
        default: The conversation's language so far.

    Returns:
        ``fr`` or ``en`` (or ``default``).
    """
    for reply in reversed(replies):
        if reply.language is not None:
            return reply.language
    return default


class RasaClient:
    """Client of the Rasa server, sharing one HTTP connection pool.

    Args:
        base_url: Base URL of the Rasa server, e.g. ``http://127.0.0.1:5005``.
        timeout: Seconds to wait for Rasa's answer to one message.
        http: The shared HTTP client; the caller closes it. Without it, the client makes its own, closed by
            ``aclose``.
    """

    def __init__(self, base_url: str, timeout: float, http: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient(trust_env=False)

    async def aclose(self) -> None:
        """Close the HTTP client if this client made it."""
        if self._owns_http:
            await self._http.aclose()

    async def send(self, conversation_id: str, text: str, language: str | None) -> list[BotReply]:
        """Send a citizen's message to the bot and return its replies.

        Args:
            conversation_id: The conversation, used as Rasa's sender id (one tracker per conversation).
            text: The citizen's text, or a button's payload.
            language: The conversation's current language, passed to Rasa as metadata so that short or
                ambiguous messages keep it; None while it is not known (the bot then decides alone).

        Returns:
            The bot's replies, in order (possibly none).

        Raises:
            RasaUnavailable: Rasa could not be reached, timed out, answered an error status or an unexpected
                body.
        """
        metadata = {"language": language} if language is not None else {}
        body = {"sender": conversation_id, "message": text, "metadata": metadata}
        url = f"{self.base_url}{WEBHOOK_PATH}"
        with self._unavailable_when_unreachable():
            response = await self._http.post(url, json=body, timeout=self.timeout)
        if not response.is_success:
            raise RasaUnavailable(f"Rasa answered HTTP {response.status_code}")
        try:
            payload = response.json()
        except ValueError as exc:  # the body is not JSON
            raise RasaUnavailable("Rasa answered a body that is not JSON") from exc
        return parse_replies(payload)

    @contextlib.contextmanager
    def _unavailable_when_unreachable(self) -> Iterator[None]:
        """Turn an exchange with Rasa that failed (not reached, timed out) into ``RasaUnavailable``."""
        try:
            yield
        except httpx.TimeoutException as exc:
            raise RasaUnavailable(f"Rasa did not answer within {self.timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"cannot reach Rasa at {self.base_url}: {type(exc).__name__}") from exc

    async def status(self, timeout: float = 2.0) -> str | None:
        """Check the Rasa server, saying why it is not ready.

        Args:
            timeout: Seconds to wait.

        Returns:
            None when ``GET /`` answers 200, else a short reason.
        """
        return await probe(self._http, f"{self.base_url}/", timeout)

    async def resume(self, conversation_id: str, secret: str) -> bool:
        """Record in Rasa's tracker that the bot has the conversation again, after a human agent had it.

        Calls the ``guichet`` channel's ``POST /webhooks/guichet/resume``, signed like the webhooks, which
        appends Rasa's ``resume`` event (the action server paused the tracker when it handed over).

        Args:
            conversation_id: The conversation (Rasa's sender id).
            secret: The shared webhook secret.

        Returns:
            Whether Rasa recorded it; a failure is logged, not raised (the handoff is closed all the same).
        """
        try:
            response = await self._post_signed(RESUME_PATH, {"conversation_id": conversation_id}, secret)
        except httpx.HTTPError as exc:
            logger.error("Could not resume the bot for %s: %s", conversation_id, type(exc).__name__)
            return False
        if response.status_code != 200:
            logger.error("Rasa refused to resume %s: HTTP %d", conversation_id, response.status_code)
            return False
        return True

    async def forget(self, idle_days: int, secret: str) -> int:
        """Delete Rasa's copy of the conversations idle for ``idle_days``: the trackers of its tracker store.

        Calls the ``guichet`` channel's ``POST /webhooks/guichet/forget``, signed like the webhooks, which
        deletes every tracker whose latest event is older than ``idle_days`` days (``bot.retention``).

        Args:
            idle_days: The retention period, in days.
            secret: The shared webhook secret.

        Returns:
            The number of trackers Rasa deleted.

        Raises:
            RasaUnavailable: Rasa could not be reached, timed out, refused (e.g. HTTP 501 for a tracker store
                it cannot delete from) or answered something else than ``{"forgotten": int}``.
        """
        with self._unavailable_when_unreachable():
            response = await self._post_signed(FORGET_PATH, {"idle_days": idle_days}, secret)
        if response.status_code != 200:
            raise RasaUnavailable(f"Rasa answered HTTP {response.status_code}: {response.text[:300]}")
        try:
            forgotten = response.json()["forgotten"]
        except (ValueError, TypeError, KeyError):  # not JSON, not an object, no count
            forgotten = None
        if not isinstance(forgotten, int) or isinstance(forgotten, bool):
            raise RasaUnavailable(f"unexpected answer from Rasa: {response.text[:300]}")
        return forgotten

    async def _post_signed(self, path: str, payload: dict[str, Any], secret: str) -> httpx.Response:
        """POST a JSON body to the channel, signed with the shared secret (``api.signing``).

        Raises:
            httpx.HTTPError: Rasa could not be reached or timed out (``self.timeout``).
        """
        body = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json", signing.SIGNATURE_HEADER: signing.sign(secret, body)}
        return await self._http.post(
            f"{self.base_url}{path}", content=body, headers=headers, timeout=self.timeout
        )


async def probe(http: httpx.AsyncClient, url: str, timeout: float) -> str | None:
    """GET a URL and say why it is not healthy.

    Args:
        http: The HTTP client.
        url: The URL to GET.
        timeout: Seconds to wait.

    Returns:
        None when the URL answers 200, else a short reason (``unreachable``, ``timed out``, ``HTTP 500``…).
    """
    try:
        response = await http.get(url, timeout=timeout)
    except httpx.TimeoutException:
        return f"timed out after {timeout:g} s"
    except httpx.HTTPError as exc:
        return f"unreachable ({type(exc).__name__})"
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    return None
