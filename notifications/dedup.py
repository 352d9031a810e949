"""Deduplication of events by id, in front of consumers that see events at least once.

Why "check, handle, then mark" (and not "mark, then handle"): marking first would turn a crash
during handling into a lost notice, because the redelivered event would be skipped. Marking
after handling turns that crash into a repeat instead, and repeats are absorbed by the
idempotent :meth:`~notifications.inbox.InboxWriter.add`. The deduplicator is the cheap filter
that keeps redeliveries (reclaimed Stream entries, relay retries) off the database.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as aioredis


class Deduplicator(Protocol):
    """Remembers which event ids a consumer has fully handled."""

    async def seen(self, event_id: str) -> bool:
        """Return whether ``event_id`` was marked handled."""
        ...

    async def mark(self, event_id: str) -> None:
        """Record that ``event_id`` was handled."""
        ...


class MemoryDeduplicator:
    """Process-local deduplicator remembering the last ``capacity`` ids.

    Enough for the in-process bus, where redeliveries come only from relay retries of recent
    rows. Several processes need :class:`RedisDeduplicator`.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()

    async def seen(self, event_id: str) -> bool:
        """Return whether ``event_id`` was marked (and refresh its recency)."""
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return True
        return False

    async def mark(self, event_id: str) -> None:
        """Remember ``event_id``, forgetting the oldest id beyond capacity."""
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


_MARK_MANY = """
for _, key in ipairs(KEYS) do
  redis.call('SET', key, '1', 'EX', ARGV[1])
end
return #KEYS
"""


class RedisDeduplicator:
    """Deduplicator shared by every consumer process, one expiring Redis key per event id.

    Args:
        client: A ``redis.asyncio`` client.
        namespace: Key prefix; include the consumer group so two groups do not share marks.
        ttl_seconds: How long a mark lives. It must exceed the longest time an event can stay
            pending in the Stream (reclaim idle time times delivery attempts) and the relay's
            longest republish delay; a week is far beyond both.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        namespace: str = "fieldrep:dedup:delivery",
        ttl_seconds: int = 7 * 24 * 3600,
    ) -> None:
        self._client = client
        self._namespace = namespace
        self._ttl = ttl_seconds
        self._mark_script = client.register_script(_MARK_MANY)

    def _key(self, event_id: str) -> str:
        return f"{self._namespace}:{event_id}"

    async def seen(self, event_id: str) -> bool:
        """Return whether ``event_id`` was marked by any process."""
        return bool(await self._client.exists(self._key(event_id)))

    async def mark(self, event_id: str) -> None:
        """Mark ``event_id`` handled for ``ttl_seconds``."""
        await self._client.set(self._key(event_id), b"1", ex=self._ttl)

    async def seen_many(self, event_ids: Sequence[str]) -> list[bool]:
        """:meth:`seen` for a batch: one ``MGET``, one command rather than one per id (the
        client's per-command cost dominated a realignment's thousand notices)."""
        if not event_ids:
            return []
        values = await self._client.mget([self._key(e) for e in event_ids])
        return [value is not None for value in values]

    async def mark_many(self, event_ids: Sequence[str]) -> None:
        """:meth:`mark` for a batch: one script call setting every key with its expiry."""
        if not event_ids:
            return
        keys = [self._key(e) for e in event_ids]
        await self._mark_script(keys=keys, args=[self._ttl])


__all__ = ["Deduplicator", "MemoryDeduplicator", "RedisDeduplicator"]
