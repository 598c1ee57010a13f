"""Run in ``.venv-rasa`` by ``tests/bot/test_tracker_retention.py``: ``bot.retention`` on Rasa's own stores.

Saves trackers idle for 100 days and for 1 day in each kind of store, forgets those idle for 90 days twice,
and prints as JSON, per case, the counts returned and the senders left. Usage::

    .venv-rasa/bin/python tests/bot/tracker_stores.py SQLITE_FILE REDIS_KEY_PREFIX
"""

# mypy: ignore-errors
# (Rasa is not installed in .venv, where mypy runs; ``bot.retention`` is imported by name below, so that mypy
# does not follow it into Rasa either.)

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from typing import Any

import redis
from rasa.core.tracker_store import (
    AwaitableTrackerStore,
    FailSafeTrackerStore,
    InMemoryTrackerStore,
    RedisTrackerStore,
    SQLTrackerStore,
    TrackerStore,
)
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

retention = importlib.import_module("bot.retention")
SECONDS_PER_DAY = retention.SECONDS_PER_DAY
NOW = 1_780_000_000.0
DOMAIN = Domain.empty()


class ElsewhereTrackerStore(TrackerStore):
    """A store ``bot.retention`` knows nothing about."""

    async def keys(self) -> list[str]:
        return []


async def save(store: TrackerStore, sender_id: str, idle_days: float) -> None:
    """Saves a tracker whose events are ``idle_days`` old (the first a minute older)."""
    latest = NOW - idle_days * SECONDS_PER_DAY
    events = [
        UserUttered("bonjour", timestamp=latest - 60),
        ActionExecuted("action_listen", timestamp=latest),
    ]
    await store.save(DialogueStateTracker.from_events(sender_id, events))


async def fill(store: TrackerStore) -> None:
    await save(store, "idle-100-days", 100)
    await save(store, "idle-91-days", 91)
    await save(store, "idle-89-days", 89)
    await save(store, "idle-1-day", 1)


async def forget_twice(store: TrackerStore, left: TrackerStore) -> dict[str, Any]:
    """Forgets the trackers idle for 90 days twice, then lists what ``left`` still holds."""
    counts = [await retention.forget_idle(store, 90, now=NOW) for _ in range(2)]
    return {"counts": counts, "left": sorted(str(key) for key in await left.keys())}


async def main(sqlite_file: str, redis_prefix: str) -> dict[str, Any]:
    results: dict[str, Any] = {}

    memory = InMemoryTrackerStore(DOMAIN)
    await fill(memory)
    results["in_memory"] = await forget_twice(memory, memory)

    sql = SQLTrackerStore(DOMAIN, dialect="sqlite", db=sqlite_file)
    await fill(sql)
    results["sql_behind_fail_safe"] = await forget_twice(FailSafeTrackerStore(sql), sql)

    primary, fallback = InMemoryTrackerStore(DOMAIN), InMemoryTrackerStore(DOMAIN)
    await fill(primary)
    await save(fallback, "fallback-idle-100-days", 100)
    await save(fallback, "fallback-idle-1-day", 1)
    wrapped = AwaitableTrackerStore(FailSafeTrackerStore(primary, fallback_tracker_store=fallback))
    results["fail_safe_with_fallback"] = await forget_twice(wrapped, primary)
    results["fail_safe_with_fallback"]["fallback_left"] = sorted(await fallback.keys())

    elsewhere = FailSafeTrackerStore(ElsewhereTrackerStore(DOMAIN), fallback_tracker_store=fallback)
    await save(fallback, "fallback-idle-100-days", 100)
    try:
        await retention.forget_idle(elsewhere, 90, now=NOW)
        results["unsupported"] = {"error": None}
    except retention.UnsupportedTrackerStoreError as error:
        results["unsupported"] = {"error": str(error), "fallback_left": sorted(await fallback.keys())}

    try:
        redis.StrictRedis(socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError as error:
        results["redis"] = {"skipped": f"no Redis server at localhost:6379 ({error})"}
        return results
    store = RedisTrackerStore(DOMAIN, key_prefix=redis_prefix)
    other = RedisTrackerStore(DOMAIN, key_prefix=redis_prefix + "other")  # another bot's trackers
    try:
        await fill(store)
        await save(other, "idle-100-days", 100)
        results["redis"] = await forget_twice(store, store)
        results["redis"]["left"] = [key.removeprefix(store.key_prefix) for key in results["redis"]["left"]]
        results["redis"]["other_left"] = len(list(await other.keys()))
    finally:
        for kept in (store, other):
            for key in await kept.keys():
                kept.red.delete(key)
    return results


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2]))))
