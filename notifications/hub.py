"""Per-process fan-out of inbox items to live subscriptions, with resume by cursor.

Why this design:
    * One bus reader per process feeds :meth:`SubscriptionHub.publish_local`, which only appends
      to in-memory per-subscriber buffers. A subscriber costs a deque and an ``asyncio.Event``,
      not a Redis connection, so a process holds thousands of WebSocket subscriptions.
    * No gap, no duplicate across replay and live: :meth:`SubscriptionHub.subscribe` registers
      the buffer *before* it reads the inbox, so an item stored during the replay is either in
      the replay or in the buffer (or both), and every item is yielded only if its cursor is
      greater than the last one yielded.
    * Missed announcements heal themselves: a jump in dense cursors (``cursor > last + 1``), a
      buffer overflow (slow client) or a :meth:`SubscriptionHub.resync` after the bus
      reconnected makes the subscriber replay from its last cursor. Memory stays bounded per
      subscriber.
"""

from __future__ import annotations

from asyncio import Event as _AsyncEvent
from collections import deque
from collections.abc import AsyncIterator

from notifications.inbox import InboxItem, InboxReader


class _Subscriber:
    __slots__ = ("items", "max_items", "needs_replay", "wakeup")

    def __init__(self, max_items: int) -> None:
        self.items: deque[InboxItem] = deque()
        self.max_items = max_items
        self.needs_replay = False
        self.wakeup = _AsyncEvent()

    def push(self, item: InboxItem) -> None:
        if len(self.items) >= self.max_items:
            # Too slow to keep up: drop the buffer and re-read from the inbox later.
            self.items.clear()
            self.needs_replay = True
        else:
            self.items.append(item)
        self.wakeup.set()

    def request_replay(self) -> None:
        self.needs_replay = True
        self.wakeup.set()


class SubscriptionHub:
    """Live subscriptions of one process, fed by the bus and backed by the inbox.

    Args:
        reader: The inbox, for replays.
        buffer_size: Items buffered per subscriber before it falls back to a replay.
        page_size: Items per inbox read during a replay.
        dense_cursors: Whether the reader's cursors are dense per user (1, 2, 3, ...). Then a
            jump reveals a missed item and triggers a repairing replay. With sparse cursors
            (e.g. a global autoincrement id) pass ``False``, or every live item costs a read;
            missed announcements are then repaired by :meth:`resync` after the bus reconnects
            (pub/sub on a live connection does not drop messages) and by buffer overflow.

    Example:
        >>> hub = SubscriptionHub(inbox_reader)  # doctest: +SKIP
        >>> bus.add_listener(hub)  # doctest: +SKIP
        >>> async for item in hub.subscribe("rep-7", after_cursor=41):  # doctest: +SKIP
        ...     await websocket.send(item.to_json())
    """

    def __init__(
        self,
        reader: InboxReader,
        *,
        buffer_size: int = 1000,
        page_size: int = 200,
        dense_cursors: bool = True,
    ) -> None:
        self._reader = reader
        self._dense = dense_cursors
        self._buffer_size = buffer_size
        self._page_size = page_size
        self._by_user: dict[str, set[_Subscriber]] = {}
        self._live = 0
        self.replays = 0
        """Inbox replays performed, initial ones included (for metrics and tests)."""

    @property
    def subscriber_count(self) -> int:
        """Number of open subscriptions in this process."""
        return sum(len(subs) for subs in self._by_user.values())

    @property
    def live_subscriptions(self) -> int:
        """Subscriptions past their initial replay, waiting for live items (for health checks:
        a subscription counted here hears the next announcement without reading the inbox)."""
        return self._live

    def publish_local(self, item: InboxItem) -> None:
        """Buffer ``item`` for every local subscription of ``item.user_id`` (never blocks)."""
        for sub in self._by_user.get(item.user_id, ()):
            sub.push(item)

    def resync(self) -> None:
        """Make every subscription replay from its last cursor (announcements were missed)."""
        for subs in self._by_user.values():
            for sub in subs:
                sub.request_replay()

    async def subscribe(self, user_id: str, after_cursor: int | None) -> AsyncIterator[InboxItem]:
        """Yield ``user_id``'s items after ``after_cursor``, then live ones, in cursor order.

        Args:
            user_id: Whose inbox.
            after_cursor: The last cursor the client has (0 for everything). ``None`` means
                live items only; gap repair then starts with the first item yielded, so clients
                should pass the cursor of the inbox page they loaded.

        Yields:
            Items with strictly increasing cursors; closing the iterator unsubscribes.
        """
        sub = _Subscriber(self._buffer_size)
        self._by_user.setdefault(user_id, set()).add(sub)
        last = after_cursor
        counted = False
        try:
            if last is not None:
                async for item in self._replay(user_id, last):
                    last = item.cursor
                    yield item
            self._live += 1
            counted = True
            while True:
                if sub.needs_replay and last is not None:
                    sub.needs_replay = False
                    sub.items.clear()
                    async for item in self._replay(user_id, last):
                        last = item.cursor
                        yield item
                    continue
                sub.needs_replay = False
                if not sub.items:
                    sub.wakeup.clear()
                    await sub.wakeup.wait()
                    continue
                item = sub.items.popleft()
                if last is not None and item.cursor <= last:
                    continue  # already yielded by a replay
                if self._dense and last is not None and item.cursor > last + 1:
                    # Something between is missing from the buffer (or cursors are sparse).
                    async for replayed in self._replay(user_id, last):
                        last = replayed.cursor
                        yield replayed
                    if item.cursor <= last:
                        continue
                last = item.cursor
                yield item
        finally:
            if counted:
                self._live -= 1
            subs = self._by_user.get(user_id)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._by_user[user_id]

    async def _replay(self, user_id: str, after: int) -> AsyncIterator[InboxItem]:
        self.replays += 1
        while True:
            page = await self._reader.read_after(user_id, after, self._page_size)
            for item in page:
                if item.cursor > after:
                    after = item.cursor
                    yield item
            if len(page) < self._page_size:
                return


__all__ = ["SubscriptionHub"]
