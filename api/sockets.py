"""Running a WebSocket's concurrent loops (push events, read the client, keep-alives) until one ends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine
from typing import Any

from fastapi import WebSocket, WebSocketDisconnect

from api.events import Subscription

logger = logging.getLogger(__name__)

WS_UNAUTHORIZED = 4401
"""Close code: no valid credentials (session or conversation token)."""
WS_FORBIDDEN = 4403
"""Close code: the account lacks the role."""


async def run_until_first_ends(websocket: WebSocket, name: str, *loops: Coroutine[Any, Any, None]) -> None:
    """Run a socket's loops together; when one ends (the client left, an error), cancel the others, close.

    Args:
        websocket: The accepted socket.
        name: What the socket is, for the logs.
        *loops: The loops.
    """
    tasks = [asyncio.create_task(loop) for loop in loops]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            error = task.exception()
            if error is not None and not isinstance(error, WebSocketDisconnect):
                logger.warning("%s ended: %r", name, error)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(RuntimeError, WebSocketDisconnect):  # the client may be gone already
            await websocket.close()


async def forward(websocket: WebSocket, events: Subscription) -> None:
    """Send every event of a subscription to the client, as JSON."""
    async for event in events:
        await websocket.send_json(event)


async def answer_pings(websocket: WebSocket) -> None:
    """Read the client until it leaves, answering ``{"type": "ping"}`` with ``{"type": "pong"}``."""
    while True:
        received: Any = await websocket.receive_json()
        if isinstance(received, dict) and received.get("type") == "ping":
            await websocket.send_json({"type": "pong"})
