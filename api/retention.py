"""Data retention: conversations with no activity for ``retention_days`` are deleted, with all they hold.

A conversation's last activity is the later of its creation and its latest message (every turn, agent message
and handoff notice is a message). Once that is more than ``GUICHET_RETENTION_DAYS`` ago, the conversation is
deleted with its messages, handoffs and feedback: the citizens' widget promises it in its privacy notice.

Retention covers Rasa's copy too. Rasa keeps each conversation in its tracker store (keyed by the
conversation id), and deletes nothing by itself: after each purge the API asks it, through the ``guichet``
channel's signed ``POST /webhooks/guichet/forget`` (``bot.retention``), to delete the trackers whose latest
event is older than the same number of days. Rasa's idea of idleness is its own: a tracker idle that long may
belong to a conversation the API keeps (an agent's messages and a ticket's wait do not reach Rasa), which then
starts a new tracker if it comes back to the bot; trackers of conversations that never went through the API
(Rasa's ``socketio`` channel) are forgotten alike. When Rasa cannot be reached, or refuses (a tracker store it
cannot delete from), the API logs a warning and asks again at the next purge.

The API purges at startup and then every hour (``RetentionTask``; Rasa is asked right after startup, in the
background, so that the API never waits for it); the command line does it by hand::

    python -m api.retention            # delete the expired conversations now, then ask Rasa
    python -m api.retention --dry-run  # only count them (Rasa is not asked)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import TextIO

from sqlalchemy import ColumnElement, and_, delete, exists, func, select
from sqlalchemy.orm import Session

from api.config import Settings, get_settings
from api.db import Database, create_db_engine, run_migrations
from api.models import OPEN_HANDOFF_STATUSES, Conversation, Feedback, Handoff, Message, utcnow
from api.rasa_client import RasaClient, RasaUnavailable

logger = logging.getLogger(__name__)

PURGE_INTERVAL = timedelta(hours=1)
"""How often the API purges, after the purge at startup."""

DEPENDENT_MODELS: tuple[type[Feedback] | type[Handoff] | type[Message], ...] = (Feedback, Handoff, Message)
"""The tables that reference ``conversations``, deleted before it (a test checks none is missing)."""

_BATCH_SIZE = 500
"""Conversation ids per ``IN (...)`` list: far below SQLite's and PostgreSQL's limits on bound parameters."""


def _expired(cutoff: datetime) -> ColumnElement[bool]:
    """Return the condition on ``conversations`` rows that may be deleted: idle since before ``cutoff``.

    A conversation whose handoff is still open (waiting or active) is never expired, however old its last
    message: a citizen is waiting for an agent, or an agent has the conversation open (a ticket left while
    the office was closed can wait long for its answer); deleting it would pull it from under them. It
    expires ``days`` after its handoff is closed, since closing writes a message to the citizen.
    """
    recent_message = exists().where(Message.conversation_id == Conversation.id, Message.created_at >= cutoff)
    open_handoff = exists().where(
        Handoff.conversation_id == Conversation.id, Handoff.status.in_(OPEN_HANDOFF_STATUSES)
    )
    return and_(Conversation.created_at < cutoff, ~recent_message, ~open_handoff)


def _batches(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """Yield ``ids`` in slices of at most ``_BATCH_SIZE``."""
    for start in range(0, len(ids), _BATCH_SIZE):
        yield ids[start : start + _BATCH_SIZE]


def count_expired(session: Session, *, now: datetime, days: int) -> int:
    """Count the conversations ``purge_expired`` would delete, deleting nothing.

    Args:
        session: The database session.
        now: The current time (timezone-aware).
        days: The retention period, in days.

    Returns:
        The number of conversations with no activity since ``now - days`` and no open handoff.
    """
    cutoff = now - timedelta(days=days)
    query = select(func.count()).select_from(Conversation).where(_expired(cutoff))
    return session.scalar(query) or 0


def purge_expired(session: Session, *, now: datetime, days: int) -> int:
    """Delete the conversations idle since before ``now - days``, with their messages, handoffs and feedback.

    Everything happens in one transaction, committed at the end: the expired conversations are chosen and
    locked, then their rows are deleted with bulk ``DELETE ... WHERE conversation_id IN (...)`` statements,
    the tables that reference ``conversations`` first (``DEPENDENT_MODELS``), so that nothing relies on
    ``ON DELETE CASCADE`` or on SQLite enforcing foreign keys.

    Conversations with an open handoff are kept (see ``_expired``). A turn or a handoff running meanwhile is
    never lost: writers lock the conversation's row before adding to it (``crud.get_conversation(...,
    for_update=True)``). On PostgreSQL the choice skips the rows locked by a writer (``FOR UPDATE SKIP
    LOCKED``) and is checked again once the rows are locked, so that a message committed in between keeps
    its conversation; on SQLite the transaction holds the database's write lock from its first statement.

    Args:
        session: The database session; its transaction is committed.
        now: The current time (timezone-aware).
        days: The retention period, in days.

    Returns:
        The number of conversations deleted.
    """
    cutoff = now - timedelta(days=days)
    expired = _expired(cutoff)
    locked = session.scalars(
        select(Conversation.id).where(expired).with_for_update(of=Conversation, skip_locked=True)
    ).all()
    # Checked again in a new statement: on PostgreSQL it sees what was committed before the rows were locked.
    ids = [
        conversation_id
        for batch in _batches(locked)
        for conversation_id in session.scalars(
            select(Conversation.id).where(Conversation.id.in_(batch), expired)
        )
    ]
    for batch in _batches(ids):
        for model in DEPENDENT_MODELS:
            session.execute(
                delete(model).where(model.conversation_id.in_(batch)),
                execution_options={"synchronize_session": False},
            )
        session.execute(
            delete(Conversation).where(Conversation.id.in_(batch)),
            execution_options={"synchronize_session": False},
        )
    session.commit()
    if ids:
        logger.info("Deleted %d conversation(s) with no activity for %d days", len(ids), days)
    else:
        logger.debug("No conversation without activity for %d days", days)
    return len(ids)


RASA_FIRST_RETRY = timedelta(minutes=1)
"""How soon Rasa is asked again when it could not be reached after the API started."""


class RetentionTask:
    """Purges the expired conversations at startup, then every ``interval``, for as long as the API runs.

    After each purge, Rasa is asked to forget the trackers idle as long (when ``rasa`` is given); at startup
    that happens in the background. A failed purge, or Rasa not answering, is logged and tried again at the
    next interval; it never stops the API.

    Args:
        db: The application's database.
        days: The retention period, in days (``Settings.retention_days``).
        interval: Time between two purges.
        clock: Returns the current time (timezone-aware); for tests.
        rasa: The Rasa server to ask to forget its idle trackers (its timeout bounds each call); None to
            purge the API's database only.
        secret: The shared webhook secret signing the calls to Rasa; required with ``rasa``.

    Raises:
        ValueError: Only one of ``rasa`` and ``secret`` is given.
    """

    def __init__(
        self,
        db: Database,
        days: int,
        *,
        interval: timedelta = PURGE_INTERVAL,
        clock: Callable[[], datetime] = utcnow,
        rasa: RasaClient | None = None,
        secret: str | None = None,
    ) -> None:
        if (rasa is None) != (secret is None):
            raise ValueError("rasa and secret go together")
        self.db = db
        self.days = days
        self.interval = interval
        self.clock = clock
        self.rasa = rasa
        self.secret = secret
        self._task: asyncio.Task[None] | None = None

    async def purge(self) -> int | None:
        """Purge once, in a worker thread.

        Returns:
            The number of conversations deleted, or None if the purge failed (the error is logged).
        """
        try:
            return await self.db.run(purge_expired, now=self.clock(), days=self.days)
        except Exception:
            logger.exception("Could not delete the expired conversations; trying again in %s", self.interval)
            return None

    async def forget_in_rasa(self, retry_in: timedelta | None = None) -> int | None:
        """Ask Rasa to forget the trackers idle for ``days``, once (nothing when the task has no ``rasa``).

        Args:
            retry_in: When it will be asked again if this fails, for the log (default: ``interval``).

        Returns:
            The number of trackers Rasa deleted, or None if it was not asked or could not be (logged).
        """
        if self.rasa is None or self.secret is None:
            return None
        try:
            forgotten = await self.rasa.forget(self.days, self.secret)
        except RasaUnavailable as exc:
            logger.warning(
                "Could not ask Rasa to forget the conversations idle for %d days (%s); trying again in %s",
                self.days,
                exc,
                retry_in or self.interval,
            )
            return None
        if forgotten:
            logger.info("Rasa forgot %d conversation(s) with no activity for %d days", forgotten, self.days)
        return forgotten

    async def start(self) -> None:
        """Purge now, before the API serves, then ask Rasa and purge every ``interval`` in the background."""
        await self.purge()
        self._task = asyncio.create_task(self._every_interval(), name="guichet-retention")

    async def stop(self) -> None:
        """Stop the periodic purges, waiting for a purge under way to finish (it is one transaction)."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _every_interval(self) -> None:
        # Rasa often starts after the API (``make run`` starts them together): until it has answered once,
        # it is asked again every minute rather than an hour later.
        retry = min(RASA_FIRST_RETRY, self.interval)
        waited = timedelta()
        while True:
            answered = await self.forget_in_rasa(retry) is not None
            if answered or self.rasa is None or waited + retry >= self.interval:
                break
            await asyncio.sleep(retry.total_seconds())
            waited += retry
        await asyncio.sleep((self.interval - waited).total_seconds())
        while True:
            await self.purge()
            await self.forget_in_rasa()
            await asyncio.sleep(self.interval.total_seconds())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m api.retention",
        description="Delete the conversations with no activity for GUICHET_RETENTION_DAYS days "
        "(with their messages, handoffs and feedback), then ask Rasa to delete its trackers idle as long, "
        "as the API does every hour.",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="only count the API's conversations; delete nothing, skip Rasa"
    )
    return parser


async def _forget_in_rasa(settings: Settings, days: int) -> int:
    """Ask the configured Rasa server to forget its trackers idle for ``days``; raises ``RasaUnavailable``."""
    rasa = RasaClient(settings.rasa_url, timeout=settings.rasa_timeout)
    try:
        return await rasa.forget(days, settings.webhook_secret.get_secret_value())
    finally:
        await rasa.aclose()


def main(
    argv: Sequence[str] | None = None, *, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run the command line on the API's database (migrated first if needed), then on Rasa's trackers.

    Returns:
        The exit status: 0, or 1 when Rasa could not be asked to forget its trackers (the API's conversations
        are deleted all the same).
    """
    arguments = _parser().parse_args(argv)
    stdout = stdout if stdout is not None else sys.stdout
    stderr = stderr if stderr is not None else sys.stderr
    settings = get_settings()
    days = settings.retention_days
    run_migrations(settings.database_url)
    db = Database(create_db_engine(settings.database_url))
    try:
        with db.session() as session:
            if arguments.dry_run:
                count = count_expired(session, now=utcnow(), days=days)
                print(f"Would delete {count} conversation(s) with no activity for {days} days", file=stdout)
            else:
                count = purge_expired(session, now=utcnow(), days=days)
                print(f"Deleted {count} conversation(s) with no activity for {days} days", file=stdout)
    finally:
        db.dispose()
    if arguments.dry_run:
        print("Rasa's trackers: not asked (dry run)", file=stdout)
        return 0
    try:
        forgotten = asyncio.run(_forget_in_rasa(settings, days))
    except RasaUnavailable as exc:
        print(f"Could not ask Rasa at {settings.rasa_url} to forget its idle trackers: {exc}", file=stderr)
        return 1
    print(f"Rasa forgot {forgotten} conversation(s) with no activity for {days} days", file=stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
