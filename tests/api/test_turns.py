"""The per-conversation locks that keep a conversation's turns in order.

(Their effect on message numbering is tested through the API in ``test_messages`` and ``test_postgres``.)
"""

from __future__ import annotations

import asyncio
import gc

import pytest

from api.turns import ConversationLocks


@pytest.mark.anyio
async def test_conversation_locks_are_shared_while_in_use_then_freed() -> None:
    locks = ConversationLocks()
    lock = locks("a")
    assert locks("a") is lock
    assert locks("b") is not lock
    async with lock:
        assert locks("a").locked()
    del lock
    await asyncio.sleep(0)
    gc.collect()
    assert len(locks) == 0
