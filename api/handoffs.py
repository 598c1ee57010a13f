"""Handoffs: conversations the bot hands over to the human agents, and the queue they wait in.

Blocking functions taking a ``Session`` first, like those of ``api.crud``. They never take a conversation's
turn lock (``api.turns.ConversationLocks``): the action server requests a handoff while the turn that made it
ask holds that lock, and the turn reads the conversation's new mode back once Rasa has answered.
"""

from __future__ import annotations

import uuid

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from api import crud
from api.models import OPEN_HANDOFF_STATUSES, ConversationMode, Handoff, HandoffStatus, utcnow


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


def request_handoff(
    session: Session,
    conversation_id: str,
    *,
    reason: str,
    language: str | None = None,
    note: str | None = None,
) -> Handoff:
    """Hand a conversation over to the agents: ``waiting`` mode, with a new waiting handoff; and commit.

    Idempotent: when the conversation already has an open handoff, that one is returned and nothing changes.
    The conversation's row is locked meanwhile, so concurrent requests cannot open two handoffs.

    Args:
        session: The database session.
        conversation_id: The conversation's id.
        reason: Why, in a word (``requested``, ``not_helpful``…).
        language: The citizen's language; the conversation's when None.
        note: What the bot tells the agents, if anything.

    Returns:
        The conversation's open handoff.

    Raises:
        ConversationNotFound: There is no such conversation.
    """
    conversation = crud.require_conversation(session, conversation_id, for_update=True)
    existing = open_handoff(session, conversation.id)
    if existing is not None:
        return existing
    now = utcnow()
    handoff = Handoff(
        id=uuid.uuid4().hex,
        conversation_id=conversation.id,
        status=HandoffStatus.WAITING.value,
        language=language or conversation.language,
        reason=reason,
        note=note,
        created_at=now,
    )
    session.add(handoff)
    conversation.mode = ConversationMode.WAITING.value
    conversation.updated_at = now
    session.commit()
    return handoff


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
