"""Live events: what the API pushes to citizens' and agents' WebSockets, and how it fans them out.

Events are published *after* what they announce is committed to the database, and carry nothing that is
not also there: a client that misses an event (socket dropped, API restarted) catches up by reading the
database (``GET .../messages?after=SEQ``, ``GET /api/handoffs``).

Two brokers, chosen by ``GUICHET_REDIS_URL``:

- ``MemoryBroker`` (default): subscribers of this process only; enough for one API process.
- ``RedisBroker``: Redis pub/sub, so that every API replica's subscribers get every event.

Channels: ``conversation:{id}`` (the citizen's widget) and ``agents`` (every open agents' desk).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

import redis.asyncio as aioredis

logger = logging.getLogger(__name__)

AGENTS = "agents"
"""The channel of the agents' desks."""

QUEUE_SIZE = 1000
"""Events kept for a slow subscriber before the oldest are dropped (it catches up from the database)."""

Event = dict[str, Any]


def conversation_channel(conversation_id: str) -> str:
    """Return the channel of a conversation's widget."""
    return f"conversation:{conversation_id}"


class Subscription:
    """The events of one channel, as they arrive, for one subscriber (``async for event in subscription``)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=QUEUE_SIZE)

    def put(self, event: Event) -> None:
        """Deliver an event; when the subscriber lags ``QUEUE_SIZE`` events behind, drop its oldest one."""
        if self._queue.full():
            self._queue.get_nowait()
            logger.warning("A slow subscriber lost an event; it catches up from the database")
        self._queue.put_nowait(event)

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        return await self._queue.get()


class Broker(Protocol):
    """Publishes events to the subscribers of a channel, in every API process that shares the broker."""

    async def publish(self, channel: str, event: Event) -> None:
        """Send an event to the channel's subscribers (none is fine)."""

    def subscribe(self, channel: str) -> contextlib.AbstractAsyncContextManager[Subscription]:
        """Subscribe to a channel for the duration of an ``async with`` block."""

    async def aclose(self) -> None:
        """Release the broker's connections."""


class MemoryBroker:
    """A broker within one process: ``publish`` hands the event to this process's subscribers."""

    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscription]] = {}

    async def publish(self, channel: str, event: Event) -> None:
        """Send an event to the channel's subscribers in this process."""
        for subscription in list(self._subscribers.get(channel, ())):
            subscription.put(event)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        """Subscribe to a channel while the block runs."""
        subscription = Subscription()
        self._subscribers.setdefault(channel, set()).add(subscription)
        try:
            yield subscription
        finally:
            subscribers = self._subscribers.get(channel)
            if subscribers is not None:
                subscribers.discard(subscription)
                if not subscribers:
                    del self._subscribers[channel]

    def subscriber_count(self, channel: str) -> int:
        """Return how many subscribers a channel has in this process."""
        return len(self._subscribers.get(channel, ()))

    async def aclose(self) -> None:
        """Nothing to release."""


class RedisBroker:
    """A broker over Redis pub/sub: every API replica connected to the same Redis gets every event.

    Args:
        url: The Redis URL (``redis://127.0.0.1:6379/0``).
        prefix: Prefix of the Redis channel names, so that several deployments can share one Redis.
    """

    def __init__(self, url: str, prefix: str = "guichet:") -> None:
        self._redis = aioredis.Redis.from_url(url)
        self._prefix = prefix

    async def publish(self, channel: str, event: Event) -> None:
        """Publish an event on Redis; a Redis failure is logged, not raised (clients catch up later)."""
        try:
            await self._redis.publish(self._prefix + channel, json.dumps(event, default=str))
        except aioredis.RedisError as error:
            logger.error("Could not publish an event on %s: %s", channel, error)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[Subscription]:
        """Subscribe to a channel on Redis while the block runs."""
        subscription = Subscription()
        pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await pubsub.subscribe(self._prefix + channel)

        async def forward() -> None:
            async for message in pubsub.listen():
                try:
                    subscription.put(json.loads(message["data"]))
                except (ValueError, TypeError, KeyError):
                    logger.warning("Ignored a malformed event on %s", channel)

        task = asyncio.create_task(forward())
        try:
            yield subscription
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, aioredis.RedisError):
                await task
            with contextlib.suppress(aioredis.RedisError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._redis.aclose()  # type: ignore[no-untyped-call]


def create_broker(redis_url: str | None) -> MemoryBroker | RedisBroker:
    """Return the broker the settings ask for: Redis when a URL is set, else in memory."""
    return RedisBroker(redis_url) if redis_url else MemoryBroker()
