"""Handoffs: conversations the bot hands over to the human agents, the queue they wait in, and their life.

A handoff is ``waiting`` in the queue, ``active`` once an agent has claimed it, ``closed`` at the end; an
agent may also put it back in the queue. The conversation's mode follows: ``waiting``, ``agent``, then
``bot`` again. Every change is one transaction with the notice the citizen gets about it, so the database
always tells the whole story (``api.desk`` then announces it live).

Blocking functions taking a ``Session`` first, like those of ``api.crud``. They never take a conversation's
turn lock (``api.turns.ConversationLocks``): the action server requests a handoff while the turn that made it
ask holds that lock, and the turn reads the conversation's new mode back once Rasa has answered.
"""

from __future__ import annotations

import math
import re
import statistics
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from api import crud, texts
from api.accounts import Staff
from api.models import (
    OPEN_HANDOFF_STATUSES,
    Author,
    ConversationMode,
    Handoff,
    HandoffKind,
    HandoffStatus,
    Message,
    Role,
    User,
    utcnow,
)

PREVIEW_MESSAGES = 20
"""Messages of the transcript shown with each handoff of a list (the whole one is shown alone)."""
HANDLING_SAMPLE = 50
"""How many recently closed handoffs the estimated wait is computed from."""
HANDLING_WINDOW = timedelta(days=30)
"""How far back those handoffs may go."""

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[\s.-]?)?(?:\(?\d{1,4}\)?[\s.-]?){2,5}\d{2,4}(?!\w)")
_MIN_PHONE_DIGITS = 9


class HandoffNotFound(LookupError):  # noqa: N818 (reads as a sentence: raise HandoffNotFound)
    """There is no handoff with this id."""


class HandoffConflict(Exception):  # noqa: N818 (the name the routes answer 409 for)
    """The handoff is not in a state that allows this (another agent has it, it is closed…)."""


@dataclass(frozen=True)
class Change:
    """What a change of a handoff produced, for the live announcements.

    Attributes:
        handoff: The handoff after the change.
        mode: The conversation's mode after it.
        notices: The messages the citizen was told (stored with the change).
    """

    handoff: Handoff
    mode: str
    notices: list[Message]


def contact_in(text: str) -> str | None:
    """Return the e-mail address or phone number a citizen's message holds, if any (the first of each).

    Args:
        text: The message.

    Returns:
        ``"email"``, ``"phone"`` or ``"email, phone"``; None when there is neither.
    """
    found: list[str] = []
    email = _EMAIL.search(text)
    if email:
        found.append(email.group(0))
    for match in _PHONE.finditer(text):
        if sum(char.isdigit() for char in match.group(0)) >= _MIN_PHONE_DIGITS:
            found.append(match.group(0).strip())
            break
    return ", ".join(found) or None


def open_handoff(session: Session, conversation_id: str) -> Handoff | None:
    """Return a conversation's handoff that is not over (waiting or active).

    Args:
        session: The database session.
        conversation_id: The conversation's id.

    Returns:
        The handoff, or None when the conversation has none open.
    """
    query = (
        select(Handoff)
        .where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN_HANDOFF_STATUSES))
        .order_by(Handoff.created_at)
        .limit(1)
    )
    return session.scalar(query)


def require_handoff(session: Session, handoff_id: str, *, for_update: bool = False) -> Handoff:
    """Return a handoff that must exist.

    Raises:
        HandoffNotFound: There is none with this id.
    """
    handoff = session.get(Handoff, handoff_id, with_for_update=for_update) if len(handoff_id) <= 32 else None
    if handoff is None:
        raise HandoffNotFound(handoff_id)
    return handoff


def request_handoff(
    session: Session,
    conversation_id: str,
    *,
    reason: str,
    language: str | None = None,
    note: str | None = None,
    transcript: Sequence[dict[str, Any]] = (),
    kind: HandoffKind = HandoffKind.LIVE,
) -> tuple[Handoff, bool]:
    """Hand a conversation over to the agents: ``waiting`` mode, with a new waiting handoff; and commit.

    Idempotent: when the conversation already has an open handoff, that one is returned and nothing changes.
    The conversation's row is locked meanwhile, so concurrent requests cannot open two handoffs.

    Args:
        session: The database session.
        conversation_id: The conversation's id.
        reason: Why, in a word (``requested``, ``not_helpful``…).
        language: The citizen's language; the conversation's when None.
        note: What the bot tells the agents, if anything.
        transcript: The conversation as the bot saw it, ``[{"author", "text"}]``.
        kind: ``live``, or ``ticket`` when no agent is available.

    Returns:
        The conversation's open handoff, and whether this call opened it.

    Raises:
        ConversationNotFound: There is no such conversation.
    """
    conversation = crud.require_conversation(session, conversation_id, for_update=True)
    existing = open_handoff(session, conversation.id)
    if existing is not None:
        return existing, False
    now = utcnow()
    handoff = Handoff(
        id=uuid.uuid4().hex,
        conversation_id=conversation.id,
        status=HandoffStatus.WAITING.value,
        language=language or conversation.language,
        reason=reason,
        note=note,
        created_at=now,
        kind=kind.value,
        transcript=list(transcript),
    )
    session.add(handoff)
    conversation.mode = ConversationMode.WAITING.value
    conversation.updated_at = now
    session.commit()
    return handoff, True


def queue_position(session: Session, handoff: Handoff) -> int:
    """Return a handoff's place in the agents' queue.

    Args:
        session: The database session.
        handoff: The handoff.

    Returns:
        For a waiting handoff, its place among the waiting ones, oldest first, from 1 (ties broken by id);
        0 for a handoff that is not waiting.
    """
    if handoff.status != HandoffStatus.WAITING.value:
        return 0
    earlier = or_(
        Handoff.created_at < handoff.created_at,
        and_(Handoff.created_at == handoff.created_at, Handoff.id < handoff.id),
    )
    waiting = Handoff.status == HandoffStatus.WAITING.value
    ahead = session.scalar(select(func.count()).select_from(Handoff).where(waiting, earlier))
    return (ahead or 0) + 1


def waiting_conversations(session: Session) -> list[tuple[str, int]]:
    """Return each waiting conversation with its place in the queue, first in the queue first."""
    query = (
        select(Handoff.conversation_id)
        .where(Handoff.status == HandoffStatus.WAITING.value)
        .order_by(Handoff.created_at, Handoff.id)
    )
    return [(conversation_id, position) for position, conversation_id in enumerate(session.scalars(query), 1)]


def estimated_wait(session: Session, position: int, agents: int) -> int | None:
    """Estimate how long a citizen at ``position`` in the queue will wait, from recent handling times.

    The estimate is the median time agents spent on the last ``HANDLING_SAMPLE`` conversations they closed
    (within ``HANDLING_WINDOW``), times the conversations that must end before an agent is free for this one
    (``ceil(position / agents)``, with at least one agent).

    Args:
        session: The database session.
        position: The place in the queue, from 1.
        agents: How many agents are online.

    Returns:
        Seconds, or None when there is no recent history to estimate from (or the handoff is not waiting).
    """
    if position <= 0:
        return None
    query = (
        select(Handoff.claimed_at, Handoff.closed_at)
        .where(
            Handoff.status == HandoffStatus.CLOSED.value,
            Handoff.claimed_at.is_not(None),
            Handoff.closed_at >= utcnow() - HANDLING_WINDOW,
        )
        .order_by(Handoff.closed_at.desc())
        .limit(HANDLING_SAMPLE)
    )
    durations = [
        (closed - claimed).total_seconds()
        for claimed, closed in session.execute(query)
        if claimed is not None and closed is not None
    ]
    if not durations:
        return None
    return math.ceil(statistics.median(durations) * math.ceil(position / max(agents, 1)))


def _write(
    session: Session, handoff: Handoff, author: Author, text: str, *, mode: ConversationMode | None = None
) -> Message:
    """Add a message to a handoff's conversation, in the citizen's language, and set its mode if given.

    The conversation's row is locked (message numbering, see ``crud.append_messages``); nothing is committed.
    """
    conversation = crud.require_conversation(session, handoff.conversation_id, for_update=True)
    if mode is not None:
        conversation.mode = mode.value
    [message] = crud.append_messages(
        session, conversation, [crud.NewMessage(author=author, text=text, language=handoff.language)]
    )
    return message


def _notice(key: str, handoff: Handoff, **values: object) -> str:
    """Return a notice to the citizen (``api/texts.yml``) in the handoff's language."""
    return texts.notice(key, handoff.language, **values)


def claim(session: Session, handoff_id: str, agent: Staff) -> Change:
    """Give a waiting handoff to an agent, tell the citizen, and commit.

    Exactly one of several agents claiming at once wins: the claim is one conditional ``UPDATE`` (``WHERE
    status = 'waiting'``) that only one transaction can make.

    Args:
        session: The database session.
        handoff_id: The handoff.
        agent: The agent claiming it.

    Returns:
        The active handoff (an agent re-claiming their own handoff gets it unchanged, with no notice).

    Raises:
        HandoffNotFound: No such handoff.
        HandoffConflict: Another agent has it, or it is closed.
    """
    now = utcnow()
    claimed = session.execute(
        update(Handoff)
        .where(Handoff.id == handoff_id, Handoff.status == HandoffStatus.WAITING.value)
        .values(status=HandoffStatus.ACTIVE.value, assignee=agent.username, claimed_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        session.rollback()
        handoff = require_handoff(session, handoff_id)
        if handoff.status == HandoffStatus.ACTIVE.value and handoff.assignee == agent.username:
            return Change(handoff, ConversationMode.AGENT.value, [])
        if handoff.status == HandoffStatus.CLOSED.value:
            raise HandoffConflict("This conversation is closed.")
        raise HandoffConflict(f"Another agent ({handoff.assignee}) has already taken this conversation.")
    handoff = require_handoff(session, handoff_id)
    joined = _notice("agent_joined", handoff, name=agent.display_name)
    notice = _write(session, handoff, Author.SYSTEM, joined, mode=ConversationMode.AGENT)
    session.commit()
    return Change(handoff, ConversationMode.AGENT.value, [notice])


def _require_mine(session: Session, handoff_id: str, agent: Staff, *, any_if_admin: bool = False) -> Handoff:
    """Return an active handoff the agent has (an administrator may act on any, where allowed).

    Raises:
        HandoffNotFound: No such handoff.
        HandoffConflict: It is not active, or another agent has it.
    """
    handoff = require_handoff(session, handoff_id, for_update=True)
    if handoff.status != HandoffStatus.ACTIVE.value:
        raise HandoffConflict(f"This conversation is {handoff.status}: claim it first.")
    if handoff.assignee != agent.username and not (any_if_admin and agent.role == Role.ADMIN.value):
        raise HandoffConflict(f"Another agent ({handoff.assignee}) has this conversation.")
    return handoff


def post_agent_message(session: Session, handoff_id: str, agent: Staff, text: str) -> tuple[Handoff, Message]:
    """Store an agent's message to the citizen, and commit.

    Raises:
        HandoffNotFound: No such handoff.
        HandoffConflict: The agent does not have this handoff (or it is not active).
    """
    handoff = _require_mine(session, handoff_id, agent)
    message = _write(session, handoff, Author.AGENT, text)
    session.commit()
    return handoff, message


def release(session: Session, handoff_id: str, agent: Staff) -> Change:
    """Put an agent's handoff back in the queue (at its original place), tell the citizen, and commit.

    Raises:
        HandoffNotFound: No such handoff.
        HandoffConflict: The agent does not have it (an administrator may release any).
    """
    handoff = _require_mine(session, handoff_id, agent, any_if_admin=True)
    handoff.status = HandoffStatus.WAITING.value
    handoff.assignee = None
    handoff.claimed_at = None
    notice = _write(
        session, handoff, Author.SYSTEM, _notice("back_in_queue", handoff), mode=ConversationMode.WAITING
    )
    session.commit()
    return Change(handoff, ConversationMode.WAITING.value, [notice])


def close(session: Session, handoff_id: str, agent: Staff, *, resume_bot: bool) -> Change:
    """Close an agent's handoff and give the conversation back to the bot, telling the citizen; commit.

    With ``resume_bot`` the assistant says, in the citizen's language, that it is back and ready for another
    question; without, the citizen is only told the agent closed the conversation. Either way a later message
    from the citizen goes to the bot, so nothing they write is left unanswered.

    Raises:
        HandoffNotFound: No such handoff.
        HandoffConflict: The agent does not have it (an administrator may close any).
    """
    handoff = _require_mine(session, handoff_id, agent, any_if_admin=True)
    handoff.status = HandoffStatus.CLOSED.value
    handoff.closed_at = utcnow()
    # Resuming, the assistant speaks for itself; otherwise the notice comes from the system.
    author, key = (Author.BOT, "closed_resume_bot") if resume_bot else (Author.SYSTEM, "closed")
    closing = _notice(key, handoff, name=agent.display_name)
    notice = _write(session, handoff, author, closing, mode=ConversationMode.BOT)
    session.commit()
    return Change(handoff, ConversationMode.BOT.value, [notice])


def citizen_wrote(session: Session, handoff: Handoff, text: str) -> tuple[bool, list[Message]]:
    """Take note of a citizen's message to the agents: their contact, for a ticket; and commit.

    The first message of a ticket still waiting is acknowledged: the citizen is told the team will answer.

    Args:
        session: The database session.
        handoff: The conversation's open handoff.
        text: What the citizen wrote.

    Returns:
        Whether the handoff changed (a contact was found), and the notices stored for the citizen.
    """
    if handoff.kind != HandoffKind.TICKET.value:
        return False, []
    handoff = require_handoff(session, handoff.id, for_update=True)
    changed = False
    found = contact_in(text)
    if found is not None and found != handoff.contact:
        handoff.contact = found[:320]
        changed = True
    acknowledged = session.scalar(
        select(func.count())
        .select_from(Message)
        .where(
            Message.conversation_id == handoff.conversation_id,
            Message.author == Author.SYSTEM.value,
            Message.created_at >= handoff.created_at,
            Message.text == _notice("ticket_received", handoff),
        )
    )
    waiting = handoff.status == HandoffStatus.WAITING.value
    notices = (
        []
        if acknowledged or not waiting
        else [_write(session, handoff, Author.SYSTEM, _notice("ticket_received", handoff))]
    )
    session.commit()
    return changed, notices


def list_handoffs(
    session: Session, status: HandoffStatus, *, query: str | None = None, limit: int = 50
) -> list[Handoff]:
    """Return handoffs of a status: waiting and active oldest first, closed newest first.

    Args:
        session: The database session.
        status: The status.
        query: Words to look for in the conversation's messages, the contact or the conversation id
            (case-insensitive), or None for all.
        limit: At most this many.

    Returns:
        The handoffs.
    """
    statement = select(Handoff).where(Handoff.status == status.value)
    if query:
        pattern = f"%{query.lower()}%"
        in_messages = (
            select(Message.id)
            .where(Message.conversation_id == Handoff.conversation_id, func.lower(Message.text).like(pattern))
            .exists()
        )
        statement = statement.where(
            or_(
                in_messages,
                func.lower(Handoff.contact).like(pattern),
                Handoff.conversation_id == query.lower(),
            )
        )
    if status == HandoffStatus.CLOSED:
        statement = statement.order_by(Handoff.closed_at.desc(), Handoff.id)
    else:
        statement = statement.order_by(Handoff.created_at, Handoff.id)
    return list(session.scalars(statement.limit(limit)))


def transcript(session: Session, conversation_id: str, *, last: int | None = None) -> list[Message]:
    """Return a conversation's messages in order, or only its ``last`` ones."""
    statement = select(Message).where(Message.conversation_id == conversation_id)
    if last is None:
        return list(session.scalars(statement.order_by(Message.seq)))
    newest = list(session.scalars(statement.order_by(Message.seq.desc()).limit(last)))
    return newest[::-1]


def display_names(session: Session, usernames: Sequence[str | None]) -> dict[str, str]:
    """Return the display names of the given usernames (unknown ones are left out)."""
    wanted = {name for name in usernames if name}
    if not wanted:
        return {}
    rows = session.execute(select(User.username, User.display_name).where(User.username.in_(wanted)))
    return {username: name for username, name in rows}
