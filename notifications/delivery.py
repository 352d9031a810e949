"""Fan-out of one event to its recipients' three channels: inbox, live, Web Push.

Why this order: the inbox write is the durable channel, so it happens first and inline (a failure
raises, the bus redelivers). Live announcements follow, best effort, because hubs heal from the
inbox. Web Push runs in background tasks: it may wait minutes on ``Retry-After`` and must not hold
the event unacknowledged, and losing a push in a crash is acceptable because the inbox has the
notice. Only items *created* by this call are pushed, so a redelivered event does not buzz the
phone twice; the push ``Topic`` covers the remaining crash window.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from notifications.bus import EventBus
from notifications.dedup import Deduplicator
from notifications.events import Event
from notifications.inbox import InboxItem, InboxWriter
from notifications.webpush import PushResult, PushSubscription, WebPushSender

log = logging.getLogger(__name__)


class PushSubscriptionStore(Protocol):
    """Devices subscribed to Web Push (the backend implements it over SQL)."""

    async def subscriptions_for(
        self, user_ids: Sequence[str]
    ) -> Mapping[str, Sequence[PushSubscription]]:
        """Return the current subscriptions of each of ``user_ids`` that has any.

        One call per delivered batch (not per notice): a realignment notifies hundreds of reps
        at once, and a lookup per rep would queue hundreds of database round trips on the same
        event loop that serves the live subscriptions.
        """
        ...

    async def remove(self, subscription: PushSubscription) -> None:
        """Delete a subscription (pass as ``WebPushSender(on_gone=store.remove)``)."""
        ...


class NotificationDispatcher:
    """The bus consumer: deduplicate, store, announce, push.

    Args:
        inbox: Idempotent inbox writer.
        bus: Where to announce new items to live subscribers.
        dedup: Filter of already handled event ids.
        push: Web Push sender; ``None`` disables push.
        push_store: Where to find devices; required with ``push``.
        push_concurrency: Pushes in flight at once.

    Example:
        >>> dedup = RedisDeduplicator(redis)  # doctest: +SKIP
        >>> dispatcher = NotificationDispatcher(inbox, bus, dedup)  # doctest: +SKIP
        >>> bus.add_consumer(dispatcher.handle)  # doctest: +SKIP
    """

    def __init__(
        self,
        inbox: InboxWriter,
        bus: EventBus,
        dedup: Deduplicator,
        *,
        push: WebPushSender | None = None,
        push_store: PushSubscriptionStore | None = None,
        push_concurrency: int = 32,
    ) -> None:
        if (push is None) != (push_store is None):
            raise ValueError("push and push_store go together")
        self.inbox = inbox
        self.bus = bus
        self.dedup = dedup
        self.push = push
        self.push_store = push_store
        self._push_slots = asyncio.Semaphore(push_concurrency)
        self._push_tasks: set[asyncio.Task[list[PushResult]]] = set()
        self.handled = 0
        self.skipped_duplicates = 0

    async def handle(self, event: Event) -> None:
        """Deliver ``event`` once per recipient; raising leaves it to be redelivered."""
        if await self.dedup.seen(event.id):
            self.skipped_duplicates += 1
            return
        created: list[InboxItem] = []
        announced: list[InboxItem] = []
        for user_id in event.recipients:
            item, is_new = await self.inbox.add(user_id, event)
            announced.append(item)
            if is_new:
                created.append(item)
        await self.bus.announce(announced)
        await self.dedup.mark(event.id)
        self.handled += 1
        self._start_push(created)

    async def handle_many(self, events: Sequence[Event]) -> None:
        """Deliver a batch with one inbox transaction (group commit), then announce and push.

        Uses the inbox's ``add_many`` when it has one; otherwise handles events one by one.
        Raising leaves the whole batch to be redelivered (the inbox is idempotent).
        """
        add_many = getattr(self.inbox, "add_many", None)
        if add_many is None:
            for event in events:
                await self.handle(event)
            return
        seen_many = getattr(self.dedup, "seen_many", None)
        if seen_many is not None:
            flags = await seen_many([e.id for e in events])
        else:
            flags = [await self.dedup.seen(e.id) for e in events]
        fresh = [e for e, seen in zip(events, flags, strict=True) if not seen]
        self.skipped_duplicates += len(events) - len(fresh)
        if not fresh:
            return
        pairs = [(user_id, event) for event in fresh for user_id in event.recipients]
        stored: Sequence[tuple[InboxItem, bool]] = await add_many(pairs)
        # Stored means handled: announcing and marking are independent round trips, so they run
        # side by side (the next batch waits for both).
        await asyncio.gather(
            self.bus.announce([item for item, _ in stored]), self._mark([e.id for e in fresh])
        )
        self.handled += len(fresh)
        self._start_push([item for item, is_new in stored if is_new])

    async def _mark(self, event_ids: Sequence[str]) -> None:
        mark_many = getattr(self.dedup, "mark_many", None)
        if mark_many is not None:
            await mark_many(event_ids)
            return
        for event_id in event_ids:
            await self.dedup.mark(event_id)

    def _start_push(self, items: Sequence[InboxItem]) -> None:
        if self.push is None or not items:
            return
        task = asyncio.create_task(self._push_items(items))
        self._push_tasks.add(task)
        task.add_done_callback(self._push_tasks.discard)

    async def _push_items(self, items: Sequence[InboxItem]) -> list[PushResult]:
        assert self.push is not None and self.push_store is not None
        try:
            devices = await self.push_store.subscriptions_for(
                sorted({item.user_id for item in items})
            )
        except Exception:
            log.exception("could not look up push devices; the inbox keeps the notices")
            return []
        sends = [
            self._push_item(item, devices[item.user_id])
            for item in items
            if devices.get(item.user_id)
        ]
        results: list[PushResult] = []
        for batch in await asyncio.gather(*sends):
            results.extend(batch)
        return results

    async def _push_item(
        self, item: InboxItem, devices: Sequence[PushSubscription]
    ) -> list[PushResult]:
        assert self.push is not None
        async with self._push_slots:
            try:
                return await self.push.send_many(devices, item.event, cursor=item.cursor)
            except Exception:
                log.exception("push for event %s to %s failed", item.event.id, item.user_id)
                return []

    async def drain(self) -> None:
        """Wait for the pushes in flight (on shutdown and in tests)."""
        while self._push_tasks:
            await asyncio.gather(*list(self._push_tasks))


__all__ = ["NotificationDispatcher", "PushSubscriptionStore"]
