"""The default single-process wiring: relay -> in-process bus -> dispatcher -> inbox -> hub."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import date

from notif_helpers import eventually

from notifications import (
    DayPlanUpdated,
    Event,
    InboxItem,
    InMemoryInbox,
    InMemoryOutbox,
    InProcessBus,
    MemoryDeduplicator,
    NotificationDispatcher,
    OutboxRelay,
    SubscriptionHub,
)


def plan_event(i: int, user: str = "rep-1") -> Event:
    return DayPlanUpdated(user, date(2025, 3, 3), stop_count=i).to_event()


class FlakyInbox(InMemoryInbox):
    """The database is down for the first ``failures`` writes."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def add(self, user_id: str, event: Event) -> tuple[InboxItem, bool]:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("database unavailable")
        return await super().add(user_id, event)


async def test_relay_keeps_rows_while_consumer_fails_then_delivers_each_once():
    """A failing consumer leaves the rows in the outbox; after recovery every event lands once."""
    inbox = FlakyInbox(failures=3)
    bus = InProcessBus()
    dispatcher = NotificationDispatcher(inbox, bus, MemoryDeduplicator())
    bus.add_consumer(dispatcher.handle)
    outbox = InMemoryOutbox()
    events = [plan_event(i) for i in range(25)]
    for event in events:
        outbox.add(event)
    relay = OutboxRelay(
        outbox, bus, batch_size=10, poll_interval=0.01, retry_base=0.01, retry_cap=0.05
    )
    task = asyncio.create_task(relay.run())
    await eventually(lambda: outbox.unpublished_count == 0)
    relay.stop()
    await task
    assert relay.stats.bus_failures == 3
    assert [i.event.id for i in inbox.items("rep-1")] == [e.id for e in events]
    assert [i.cursor for i in inbox.items("rep-1")] == list(range(1, 26))
    assert dispatcher.handled == 25


async def test_consumer_failure_after_first_handler_is_deduplicated_on_retry():
    """With two consumers, a retry caused by the second must not redo the first one's work."""
    bus = InProcessBus()
    inbox = InMemoryInbox()
    dispatcher = NotificationDispatcher(inbox, bus, MemoryDeduplicator())
    failures = {"left": 2}
    second_calls: list[str] = []

    async def audit(event: Event) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("audit sink down")
        second_calls.append(event.id)

    bus.add_consumer(dispatcher.handle)
    bus.add_consumer(audit)
    outbox = InMemoryOutbox()
    event = plan_event(1)
    outbox.add(event)
    relay = OutboxRelay(outbox, bus, poll_interval=0.01, retry_base=0.01, retry_cap=0.02)
    task = asyncio.create_task(relay.run())
    await eventually(lambda: outbox.unpublished_count == 0)
    relay.stop()
    await task
    assert inbox.adds == 1, "the dispatcher wrote the inbox more than once"
    assert dispatcher.skipped_duplicates == 2
    assert second_calls == [event.id]


async def test_hub_replays_then_streams_without_gap_or_duplicate():
    """Items stored during a slow replay are yielded once, in order, across the boundary."""
    inbox = InMemoryInbox(read_delay=0.003)
    bus = InProcessBus()
    hub = SubscriptionHub(inbox, page_size=5)
    bus.add_listener(hub)
    dispatcher = NotificationDispatcher(inbox, bus, MemoryDeduplicator())
    for i in range(40):  # history before the subscriber connects
        await dispatcher.handle(plan_event(i))

    received: list[int] = []

    async def subscriber() -> None:
        async with contextlib.aclosing(hub.subscribe("rep-1", after_cursor=10)) as items:
            async for item in items:
                received.append(item.cursor)
                if item.cursor == 140:
                    return

    task = asyncio.create_task(subscriber())
    await asyncio.sleep(0)
    for i in range(100):  # live items interleave with the replay pages, then continue alone
        await dispatcher.handle(plan_event(100 + i))
        await asyncio.sleep(0.001)
    await asyncio.wait_for(task, 10)
    assert received == list(range(11, 141))
    assert hub.replays == 1, "the live phase should have come from the buffer, not replays"
    assert hub.subscriber_count == 0


async def test_live_subscription_gauge_counts_only_subscriptions_past_their_replay():
    """Health checks count a subscription as live once its replay is done, and not after."""
    inbox = InMemoryInbox(read_delay=0.05)
    bus = InProcessBus()
    hub = SubscriptionHub(inbox, page_size=5)
    bus.add_listener(hub)
    dispatcher = NotificationDispatcher(inbox, bus, MemoryDeduplicator())
    for i in range(12):  # three replay pages of 50 ms each
        await dispatcher.handle(plan_event(i))
    received: list[int] = []

    async def subscriber() -> None:
        async with contextlib.aclosing(hub.subscribe("rep-1", after_cursor=0)) as items:
            async for item in items:
                received.append(item.cursor)
                if item.cursor == 13:
                    return

    task = asyncio.create_task(subscriber())
    await eventually(lambda: hub.subscriber_count == 1)
    assert hub.live_subscriptions == 0, "still replaying"
    await eventually(lambda: hub.live_subscriptions == 1)
    assert received == list(range(1, 13))
    await dispatcher.handle(plan_event(12))
    await asyncio.wait_for(task, 10)
    assert hub.live_subscriptions == 0 and hub.subscriber_count == 0


async def test_slow_subscriber_overflows_and_recovers_from_inbox():
    """A subscriber too slow for its buffer loses nothing: it falls back to a replay."""
    inbox = InMemoryInbox()
    bus = InProcessBus()
    hub = SubscriptionHub(inbox, buffer_size=3, page_size=4)
    bus.add_listener(hub)
    dispatcher = NotificationDispatcher(inbox, bus, MemoryDeduplicator())
    gate = asyncio.Event()
    received: list[int] = []

    async def subscriber() -> None:
        async with contextlib.aclosing(hub.subscribe("rep-1", after_cursor=0)) as items:
            async for item in items:
                received.append(item.cursor)
                await gate.wait()
                if item.cursor == 30:
                    return

    task = asyncio.create_task(subscriber())
    await dispatcher.handle(plan_event(0))
    await eventually(lambda: received == [1])
    for i in range(1, 30):  # subscriber is blocked: the buffer of 3 overflows
        await dispatcher.handle(plan_event(i))
    gate.set()
    await asyncio.wait_for(task, 10)
    assert received == list(range(1, 31))
    assert hub.replays >= 2


async def test_hub_fans_out_per_user_only():
    """Each user's subscribers get that user's items and nobody else's."""
    inbox = InMemoryInbox()
    bus = InProcessBus()
    hub = SubscriptionHub(inbox)
    bus.add_listener(hub)
    dispatcher = NotificationDispatcher(inbox, bus, MemoryDeduplicator())
    got: dict[str, list[str]] = {"a1": [], "a2": [], "b": []}

    async def listen(name: str, user: str, count: int) -> None:
        async with contextlib.aclosing(hub.subscribe(user, after_cursor=None)) as items:
            async for item in items:
                got[name].append(item.event.id)
                if len(got[name]) == count:
                    return

    tasks = [
        asyncio.create_task(listen("a1", "rep-a", 3)),
        asyncio.create_task(listen("a2", "rep-a", 3)),
        asyncio.create_task(listen("b", "rep-b", 1)),
    ]
    await eventually(lambda: hub.subscriber_count == 3)
    shared = plan_event(0, "rep-a")
    both = DayPlanUpdated("rep-a", date(2025, 1, 1), 1).to_event(recipients=["rep-a", "rep-b"])
    for event in (shared, both, plan_event(2, "rep-a")):
        await dispatcher.handle(event)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert got["a1"] == got["a2"] and len(set(got["a1"])) == 3
    assert got["b"] == [both.id]


class SparseInbox(InMemoryInbox):
    """Cursors from a global sequence, as with an autoincrement id: 2, 4, 6, ... per user."""

    async def add(self, user_id: str, event: Event) -> tuple[InboxItem, bool]:
        item, created = await super().add(user_id, event)
        return InboxItem(user_id, item.cursor * 2, event), created

    async def read_after(self, user_id: str, after: int, limit: int):
        page = await super().read_after(user_id, after // 2, limit)
        return [InboxItem(i.user_id, i.cursor * 2, i.event) for i in page]


async def test_sparse_cursors_stream_live_without_a_read_per_item():
    """With dense_cursors=False a jump is not treated as a gap: live items cost no inbox read."""
    inbox = SparseInbox()
    bus = InProcessBus()
    hub = SubscriptionHub(inbox, dense_cursors=False)
    bus.add_listener(hub)
    dispatcher = NotificationDispatcher(inbox, bus, MemoryDeduplicator())
    for i in range(5):
        await dispatcher.handle(plan_event(i))
    received: list[int] = []

    async def subscriber() -> None:
        async with contextlib.aclosing(hub.subscribe("rep-1", after_cursor=4)) as items:
            async for item in items:
                received.append(item.cursor)
                if item.cursor == 40:
                    return

    task = asyncio.create_task(subscriber())
    await asyncio.sleep(0)
    for i in range(5, 20):
        await dispatcher.handle(plan_event(i))
        await asyncio.sleep(0)
    await asyncio.wait_for(task, 5)
    assert received == list(range(6, 41, 2))
    assert hub.replays == 1
