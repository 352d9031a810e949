"""A consumer process that SIGKILLs itself after handling its N-th event, before XACK.

Run by test_notifications_redis.py: ``python crashing_consumer.py URL PREFIX CRASH_AFTER``.
Handling includes the inbox write and the deduplication mark, so the crash lands in the worst
place: the work is done but Redis still lists the entry as pending for this consumer.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from notif_helpers import RecordingRedisInbox

from notifications import Event, NotificationDispatcher, RedisDeduplicator, RedisStreamBus


async def main(url: str, prefix: str, crash_after: int) -> None:
    bus = RedisStreamBus.from_url(
        url,
        stream=f"{prefix}events",
        channel=f"{prefix}inbox",
        consumer_name="victim",
        batch_size=10,
        block_ms=200,
        claim_idle_ms=600_000,  # the victim never reclaims: only the rescuer does
    )
    inbox = RecordingRedisInbox(bus.client, prefix)
    dedup = RedisDeduplicator(bus.client, namespace=f"{prefix}dedup")
    dispatcher = NotificationDispatcher(inbox, bus, dedup)
    handled = 0

    async def handle(event: Event) -> None:
        nonlocal handled
        await dispatcher.handle(event)
        handled += 1
        if handled == crash_after:
            os.kill(os.getpid(), signal.SIGKILL)

    bus.add_consumer(handle)
    await bus.start()
    await asyncio.sleep(60)  # killed long before


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
