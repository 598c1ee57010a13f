"""Citizens' feedback on the bot's answers, stored for the editors of the knowledge base.

A verdict comes from the widget (a button under a bot message) or from the bot (the citizen told it whether
its latest answer helped). Either way it is linked to the bot message judged, the knowledge-base entry that
message answered from, and the citizen's question before it. Blocking functions taking a ``Session`` first,
like those of ``api.crud``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.orm import Session

from api import crud
from api.models import MAX_SLUG_LENGTH, Author, Feedback, FeedbackSource, Message, utcnow


class NotABotMessage(LookupError):  # noqa: N818 (reads as a sentence: raise NotABotMessage)
    """The conversation has no bot message with this ``seq``."""


@dataclass(frozen=True)
class Judged:
    """What a verdict is about.

    Attributes:
        message_seq: ``seq`` of the bot message judged, or None.
        slug: The knowledge-base entry it answered from, or None.
        question: The citizen's question it answered, or None.
        language: Its language, or None.
    """

    message_seq: int | None = None
    slug: str | None = None
    question: str | None = None
    language: str | None = None


def _slug_of(message: Message) -> str | None:
    """Return the slug of the entry a message answers from, if any (and short enough to store)."""
    slug = (message.source or {}).get("slug")
    return slug if isinstance(slug, str) and 0 < len(slug) <= MAX_SLUG_LENGTH else None


def _question_before(session: Session, message: Message) -> str | None:
    """Return the text of the citizen's last message before ``message``, if any."""
    query = (
        select(Message.text)
        .where(
            Message.conversation_id == message.conversation_id,
            Message.author == Author.CITIZEN.value,
            Message.seq < message.seq,
        )
        .order_by(Message.seq.desc())
        .limit(1)
    )
    return session.scalar(query)


def judged(session: Session, message: Message | None) -> Judged:
    """Return what a verdict on a bot message is about.

    Args:
        session: The database session.
        message: The bot message judged, or None when it is not known.

    Returns:
        The message's ``seq``, entry, question and language (all None without a message).
    """
    if message is None:
        return Judged()
    return Judged(message.seq, _slug_of(message), _question_before(session, message), message.language)


def bot_message(session: Session, conversation_id: str, seq: int) -> Message | None:
    """Return a conversation's bot message by its ``seq``.

    Args:
        session: The database session.
        conversation_id: The conversation's id.
        seq: The message's ``seq``.

    Returns:
        The message, or None when message ``seq`` does not exist or is not the bot's.
    """
    query = select(Message).where(
        Message.conversation_id == conversation_id, Message.seq == seq, Message.author == Author.BOT.value
    )
    return session.scalar(query)


def latest_answer(session: Session, conversation_id: str) -> Message | None:
    """Return a conversation's latest bot message answering from the knowledge base (one with a source).

    Args:
        session: The database session.
        conversation_id: The conversation's id.

    Returns:
        The message, or None when the bot has not answered from the knowledge base yet.
    """
    query = (
        select(Message)
        .where(
            Message.conversation_id == conversation_id,
            Message.author == Author.BOT.value,
            Message.source.is_not(None),
        )
        .order_by(Message.seq.desc())
        .limit(1)
    )
    return session.scalar(query)


def record_widget_feedback(
    session: Session, conversation_id: str, *, seq: int, helpful: bool, comment: str | None = None
) -> Feedback:
    """Store the verdict a citizen gave in the widget on one of the bot's messages, and commit.

    A new verdict on the same message replaces the citizen's earlier one.

    Args:
        session: The database session.
        conversation_id: The conversation's id.
        seq: ``seq`` of the bot message judged.
        helpful: Whether it helped.
        comment: What the citizen added, if anything.

    Returns:
        The stored feedback.

    Raises:
        ConversationNotFound: There is no such conversation.
        NotABotMessage: The conversation has no bot message ``seq``.
    """
    conversation = crud.require_conversation(session, conversation_id)
    message = bot_message(session, conversation.id, seq)
    if message is None:
        raise NotABotMessage(seq)
    about = judged(session, message)
    about = replace(about, language=about.language or conversation.language)
    previous = session.scalar(
        select(Feedback).where(
            Feedback.conversation_id == conversation.id,
            Feedback.message_seq == seq,
            Feedback.source == FeedbackSource.WIDGET.value,
        )
    )
    feedback = previous or Feedback(conversation_id=conversation.id, source=FeedbackSource.WIDGET.value)
    _fill(feedback, about, helpful=helpful, comment=comment)
    session.add(feedback)
    session.commit()
    return feedback


def record_bot_feedback(
    session: Session,
    conversation_id: str,
    *,
    helpful: bool,
    slug: str | None = None,
    question: str | None = None,
    comment: str | None = None,
    language: str | None = None,
) -> Feedback:
    """Store a verdict the citizen gave the bot on its latest knowledge-base answer, and commit.

    Args:
        session: The database session.
        conversation_id: The conversation's id.
        helpful: Whether the answer helped.
        slug: The entry judged; by default, that of the latest answer.
        question: The question it answered; by default, the citizen's message before the latest answer.
        comment: What the citizen added, if anything.
        language: The answer's language; by default, that of the latest answer.

    Returns:
        The stored feedback, linked to the latest answer (``message_seq`` None when there is none).

    Raises:
        ConversationNotFound: There is no such conversation.
    """
    conversation = crud.require_conversation(session, conversation_id)
    about = judged(session, latest_answer(session, conversation.id))
    about = replace(
        about,
        slug=slug or about.slug,
        question=question or about.question,
        language=language or about.language,
    )
    feedback = Feedback(conversation_id=conversation.id, source=FeedbackSource.BOT.value)
    _fill(feedback, about, helpful=helpful, comment=comment)
    session.add(feedback)
    session.commit()
    return feedback


def _fill(feedback: Feedback, about: Judged, *, helpful: bool, comment: str | None) -> None:
    """Set a feedback row's verdict, what it is about, and its time (now)."""
    feedback.message_seq = about.message_seq
    feedback.slug = about.slug
    feedback.question = about.question
    feedback.language = about.language
    feedback.helpful = helpful
    feedback.comment = comment
    feedback.created_at = utcnow()
