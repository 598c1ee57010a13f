"""Live events: the in-process broker, and Redis carrying them between API replicas (a real Redis server)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import anyio
import pytest
import redis
from fastapi.testclient import TestClient

from api.config import Settings
from api.events import MemoryBroker, RedisBroker
from api.main import create_app
from tests.api.helpers import create_staff, hand_off, staff_headers, start_conversation

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_or_skip() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {error}")


@pytest.mark.anyio
async def test_the_memory_broker_delivers_to_the_channel_s_subscribers_only() -> None:
    broker = MemoryBroker()
    async with (
        broker.subscribe("a") as first,
        broker.subscribe("a") as second,
        broker.subscribe("b") as other,
    ):
        await broker.publish("a", {"n": 1})
        assert [await anext(first), await anext(second)] == [{"n": 1}, {"n": 1}]
        with anyio.move_on_after(0.05):
            await anext(other)
            pytest.fail("the other channel got the event")
    assert broker.subscriber_count("a") == 0


@pytest.mark.anyio
async def test_the_redis_broker_crosses_processes() -> None:
    redis_or_skip()
    channel = f"test:{uuid.uuid4().hex}"
    publisher, subscriber = RedisBroker(REDIS_URL), RedisBroker(REDIS_URL)
    try:
        async with subscriber.subscribe(channel) as events:
            with anyio.fail_after(5):
                # The subscription is live once Redis confirms it; publish until it is.
                while True:
                    await publisher.publish(channel, {"hello": "replica"})
                    with anyio.move_on_after(0.2):
                        assert await anext(events) == {"hello": "replica"}
                        break
    finally:
        await publisher.aclose()
        await subscriber.aclose()


def test_an_agent_on_one_replica_hears_of_a_handoff_made_on_another(
    make_settings: Callable[..., Settings],
) -> None:
    redis_or_skip()
    settings = make_settings(GUICHET_REDIS_URL=REDIS_URL)
    create_staff(settings, "marie")
    with TestClient(create_app(settings)) as replica_a, TestClient(create_app(settings)) as replica_b:
        token = staff_headers(replica_a, "marie")["Authorization"].removeprefix("Bearer ")
        with replica_a.websocket_connect(f"/api/agent/ws?token={token}") as desk:
            assert desk.receive_json()["type"] == "hello"
            desk.send_json({"type": "ping"})
            assert desk.receive_json() == {"type": "pong"}  # subscribed by now
            conversation_id, _ = start_conversation(replica_b, "fr")
            answer = hand_off(replica_b, conversation_id).json()
            event = desk.receive_json()
            assert (event["type"], event["event"], event["handoff"]["id"]) == (
                "handoff",
                "waiting",
                answer["handoff_id"],
            )
