"""Small async helpers shared by the notifications tests."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(predicate: Callable[[], bool], within: float = 15.0) -> None:
    """Poll ``predicate`` until true; fail after ``within`` seconds (a safety net, not a metric)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


class RecordingRedisInbox:
    """An inbox writer in Redis that logs every ``add`` call, shared across processes.

    Deliberately *not* idempotent: a duplicate delivery shows up as a repeated log entry, so the
    fault tests count what got past deduplication rather than what the inbox absorbed.
    """

    def __init__(self, client, prefix: str) -> None:
        self.client = client
        self.log_key = f"{prefix}inbox-log"
        self.prefix = prefix

    async def add(self, user_id, event):
        from notifications import InboxItem

        await self.client.rpush(self.log_key, f"{user_id}:{event.id}")
        cursor = await self.client.incr(f"{self.prefix}seq:{user_id}")
        return InboxItem(user_id, int(cursor), event), True

    async def entries(self) -> list[str]:
        return [e.decode() for e in await self.client.lrange(self.log_key, 0, -1)]
