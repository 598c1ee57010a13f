"""Forgetting idle conversations in Rasa's tracker store, for the API's retention period.

Rasa keeps its own copy of each conversation, a tracker keyed by the conversation id (Rasa's sender id), and
never deletes it; its ``TrackerStore`` has no method to. The Guichet API deletes the conversations idle for
``GUICHET_RETENTION_DAYS`` and then asks Rasa, through the ``guichet`` channel's signed
``POST /webhooks/guichet/forget``, to forget the trackers idle as long (``api.retention``).

:func:`forget_idle` deletes every tracker whose latest event is older than the cutoff, per type of store:
``SQLTrackerStore`` (one bulk ``DELETE`` on its ``events`` table), ``RedisTrackerStore`` (its keys scanned)
and ``InMemoryTrackerStore`` (its dictionary), behind Rasa's ``FailSafeTrackerStore`` (the agent's, whose
in-memory fallback is emptied too) and ``AwaitableTrackerStore`` wrappers. Other stores (Mongo, DynamoDB,
custom) raise :class:`UnsupportedTrackerStoreError`, before anything is deleted.
"""

from __future__ import annotations

import asyncio
import json
import time

import sqlalchemy as sa
from rasa.core.tracker_store import (
    AwaitableTrackerStore,
    FailSafeTrackerStore,
    InMemoryTrackerStore,
    RedisTrackerStore,
    SQLTrackerStore,
    TrackerStore,
)

SECONDS_PER_DAY = 86_400
SUPPORTED = (SQLTrackerStore, RedisTrackerStore, InMemoryTrackerStore)


class UnsupportedTrackerStoreError(Exception):
    """The tracker store is of a type :func:`forget_idle` cannot delete from."""


def stores_behind(tracker_store: TrackerStore) -> list[TrackerStore]:
    """The stores that hold the trackers, behind Rasa's wrappers.

    Args:
        tracker_store: Rasa's tracker store (the agent's is a ``FailSafeTrackerStore``).

    Returns:
        The wrapped stores, with a ``FailSafeTrackerStore``'s fallback when it has made one.
    """
    if isinstance(tracker_store, FailSafeTrackerStore):
        fallback = tracker_store._fallback_tracker_store
        return stores_behind(tracker_store._tracker_store) + ([] if fallback is None else [fallback])
    if isinstance(tracker_store, AwaitableTrackerStore):
        return stores_behind(tracker_store._tracker_store)
    return [tracker_store]


def latest_timestamp(serialised: str | bytes) -> float | None:
    """The timestamp of a serialised tracker's latest event (as Redis and in-memory stores keep it).

    Args:
        serialised: ``{"events": [{"timestamp": ...}, ...], "name": ...}`` as JSON.

    Returns:
        The largest event timestamp (seconds since the epoch), or None when no event has one.
    """
    events = json.loads(serialised).get("events") or []
    timestamps = [event["timestamp"] for event in events if isinstance(event.get("timestamp"), int | float)]
    return max(timestamps, default=None)


def _is_idle(serialised: str | bytes | None, cutoff: float) -> bool:
    latest = None if serialised is None else latest_timestamp(serialised)
    return latest is not None and latest < cutoff


def _forget_sql(store: SQLTrackerStore, cutoff: float) -> int:
    """Deletes the events of every sender whose latest event is older than ``cutoff``, in one transaction."""
    events = store.SQLEvent.__table__
    idle = (
        sa.select(events.c.sender_id)
        .group_by(events.c.sender_id)
        .having(sa.func.max(events.c.timestamp) < cutoff)
        .subquery()
    )
    with store.session_scope() as session:
        forgotten = session.execute(sa.select(sa.func.count()).select_from(idle)).scalar() or 0
        # Selected from the derived table, not straight from ``events``, so that MySQL accepts it too.
        session.execute(sa.delete(events).where(events.c.sender_id.in_(sa.select(idle.c.sender_id))))
        session.commit()
    return int(forgotten)


def _forget_redis(store: RedisTrackerStore, cutoff: float) -> int:
    """Deletes every tracker under the store's key prefix whose latest event is older than ``cutoff``."""
    forgotten = 0
    for key in store.red.scan_iter(match=f"{store.key_prefix}*"):
        if _is_idle(store.red.get(key), cutoff):
            forgotten += store.red.delete(key)
    return forgotten


def _forget_in_memory(store: InMemoryTrackerStore, cutoff: float) -> int:
    idle = [sender_id for sender_id, serialised in store.store.items() if _is_idle(serialised, cutoff)]
    for sender_id in idle:
        del store.store[sender_id]
    return len(idle)


async def forget_idle(tracker_store: TrackerStore, idle_days: int, *, now: float | None = None) -> int:
    """Deletes every tracker whose latest event is more than ``idle_days`` old; idempotent.

    The SQL and Redis deletions run in a worker thread, so that Rasa goes on answering meanwhile.

    Args:
        tracker_store: Rasa's tracker store (``agent.tracker_store``).
        idle_days: The retention period, in days (at least 1).
        now: The current time, in seconds since the epoch; by default, the clock's.

    Returns:
        The number of trackers deleted.

    Raises:
        UnsupportedTrackerStoreError: A store behind ``tracker_store`` is of another type (nothing deleted).
        ValueError: ``idle_days`` is less than 1.
    """
    if idle_days < 1:
        raise ValueError(f"idle_days must be at least 1, not {idle_days}")
    cutoff = (time.time() if now is None else now) - idle_days * SECONDS_PER_DAY
    stores = stores_behind(tracker_store)
    unsupported = sorted({type(store).__name__ for store in stores if not isinstance(store, SUPPORTED)})
    if unsupported:
        raise UnsupportedTrackerStoreError(
            f"cannot delete trackers from {', '.join(unsupported)}; "
            f"supported: {', '.join(kind.__name__ for kind in SUPPORTED)}"
        )
    forgotten = 0
    for store in stores:
        if isinstance(store, SQLTrackerStore):
            forgotten += await asyncio.to_thread(_forget_sql, store, cutoff)
        elif isinstance(store, RedisTrackerStore):
            forgotten += await asyncio.to_thread(_forget_redis, store, cutoff)
        elif isinstance(store, InMemoryTrackerStore):
            forgotten += _forget_in_memory(store, cutoff)
    return forgotten
