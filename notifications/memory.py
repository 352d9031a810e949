"""In-memory implementations of the storage protocols: for the demo, tests and benchmarks.

Why ship them: they are the executable statement of the protocols' contracts (oldest-first
outbox, idempotent inbox with dense per-user cursors), the same way cosmicpython tests with fakes
instead of mocks. They are not durable; the backend provides the SQL ones.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from notifications.events import Event
from notifications.inbox import InboxItem
from notifications.relay import OutboxId, OutboxRow
from notifications.webpush import PushSubscription


class InMemoryOutbox:
    """An :class:`~notifications.relay.OutboxStore` in a dict (insertion order = age)."""

    def __init__(self) -> None:
        self._rows: dict[OutboxId, OutboxRow] = {}
        self._next = 0
        self.published: list[OutboxId] = []

    def add(self, event: Event) -> OutboxRow:
        """Append a row, as the backend does in the change's transaction."""
        self._next += 1
        row = OutboxRow(self._next, event)
        self._rows[row.id] = row
        return row

    @property
    def unpublished_count(self) -> int:
        """Rows still waiting for the relay."""
        return len(self._rows)

    async def fetch_unpublished(self, limit: int) -> Sequence[OutboxRow]:
        """Return the oldest ``limit`` rows."""
        return list(self._rows.values())[:limit]

    async def mark_published(self, ids: Sequence[OutboxId]) -> None:
        """Drop the rows (a real table may keep them with ``published_at``)."""
        for row_id in ids:
            if self._rows.pop(row_id, None) is not None:
                self.published.append(row_id)


class InMemoryInbox:
    """Inbox reader and writer with dense per-user cursors 1, 2, 3, ...

    Args:
        read_delay: Seconds each read sleeps, to imitate a database round trip (tests use it to
            widen the replay/live race window).
    """

    def __init__(self, read_delay: float = 0.0) -> None:
        self._items: dict[str, list[InboxItem]] = {}
        self._by_event: dict[tuple[str, str], InboxItem] = {}
        self.read_delay = read_delay
        self.adds = 0

    async def add(self, user_id: str, event: Event) -> tuple[InboxItem, bool]:
        """Store a notice idempotently on ``(user_id, event.id)``."""
        self.adds += 1
        existing = self._by_event.get((user_id, event.id))
        if existing is not None:
            return existing, False
        items = self._items.setdefault(user_id, [])
        item = InboxItem(user_id, len(items) + 1, event)
        items.append(item)
        self._by_event[(user_id, event.id)] = item
        return item, True

    async def read_after(self, user_id: str, after: int, limit: int) -> Sequence[InboxItem]:
        """Return up to ``limit`` items with ``cursor > after``, ascending."""
        items = self._items.get(user_id, [])
        start = max(0, after)  # cursor c sits at index c - 1
        page = items[start : start + limit]
        if self.read_delay:
            # Like a database: the result reflects the moment of the query, then travels back.
            await asyncio.sleep(self.read_delay)
        return page

    def items(self, user_id: str) -> list[InboxItem]:
        """Every item of ``user_id`` (for assertions)."""
        return list(self._items.get(user_id, []))


class InMemoryPushSubscriptions:
    """A :class:`~notifications.delivery.PushSubscriptionStore` in a dict."""

    def __init__(self) -> None:
        self._by_user: dict[str, list[PushSubscription]] = {}
        self.removed: list[PushSubscription] = []

    def add(self, user_id: str, subscription: PushSubscription) -> None:
        """Register a device."""
        self._by_user.setdefault(user_id, []).append(subscription)

    async def subscriptions_for(
        self, user_ids: Sequence[str]
    ) -> Mapping[str, Sequence[PushSubscription]]:
        """Return the devices of each user that has any."""
        return {u: list(self._by_user[u]) for u in user_ids if self._by_user.get(u)}

    async def remove(self, subscription: PushSubscription) -> None:
        """Forget a device (called on 404/410)."""
        for subs in self._by_user.values():
            if subscription in subs:
                subs.remove(subscription)
                self.removed.append(subscription)


__all__ = ["InMemoryInbox", "InMemoryOutbox", "InMemoryPushSubscriptions"]
