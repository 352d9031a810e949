"""Fault tests against real Redis: outage during relay, a consumer killed before XACK, live
subscribers across processes with disconnects. Each counts: zero lost, zero duplicated."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from datetime import date
from pathlib import Path

import pytest
import redis.asyncio as aioredis
from notif_helpers import RecordingRedisInbox, eventually

from notifications import (
    DayPlanUpdated,
    Event,
    InboxItem,
    InMemoryInbox,
    InMemoryOutbox,
    NotificationDispatcher,
    OutboxRelay,
    RedisDeduplicator,
    RedisStreamBus,
    SubscriptionHub,
    _json,
)

pytestmark = pytest.mark.redis

HERE = Path(__file__).parent
FAST = {"retry_base": 0.05, "retry_cap": 0.3, "block_ms": 200, "claim_interval": 0.3}


def plan_event(i: int, user: str = "rep-1") -> Event:
    return DayPlanUpdated(user, date(2025, 3, 3), stop_count=i).to_event()


async def test_relay_survives_redis_outage_and_delivers_exactly_once(own_redis):
    """Redis dies (and comes back empty) while events are relayed.

    The relay keeps the rows and keeps running; the consumer recreates its group; after
    recovery every event is handled exactly once.
    """
    producer = RedisStreamBus.from_url(own_redis.url, consumer_name="relay", **FAST)
    consumer = RedisStreamBus.from_url(own_redis.url, consumer_name="worker", **FAST)
    inbox = InMemoryInbox()
    dispatcher = NotificationDispatcher(inbox, consumer, RedisDeduplicator(consumer.client))
    consumer.add_consumer(dispatcher.handle)
    await consumer.start()
    outbox = InMemoryOutbox()
    relay = OutboxRelay(outbox, producer, poll_interval=0.02, retry_base=0.05, retry_cap=0.3)
    relay_task = asyncio.create_task(relay.run())
    try:
        before = [plan_event(i) for i in range(20)]
        for event in before:
            outbox.add(event)
        relay.wake()
        await eventually(lambda: inbox.adds == 20)

        own_redis.stop()
        during = [plan_event(100 + i) for i in range(30)]
        for event in during:
            outbox.add(event)
        relay.wake()
        await eventually(lambda: relay.stats.bus_failures >= 3)
        assert outbox.unpublished_count == 30, "rows must stay in the outbox while Redis is down"
        assert not relay_task.done(), "the relay must not crash on a bus error"
        assert inbox.adds == 20

        own_redis.start()  # same port, empty memory: no stream, no group, no dedup keys
        # Within the relay's publish timeout plus a retry, should a call hang across the restart.
        await eventually(lambda: inbox.adds >= 50, within=40)
        await asyncio.sleep(0.5)  # room for a stray duplicate to show up
    finally:
        relay.stop()
        await relay_task
        await consumer.aclose()
        await producer.aclose()

    delivered = [i.event.id for i in inbox.items("rep-1")]
    expected = [e.id for e in before + during]
    assert inbox.adds == 50, "a duplicate reached the inbox"
    assert sorted(delivered) == sorted(expected), "an event was lost"
    assert delivered == expected, "order changed"
    assert outbox.unpublished_count == 0
    assert "ConnectionError" in (relay.stats.last_error or "")


async def test_a_publish_that_never_returns_counts_as_a_failure_and_keeps_the_rows():
    """A peer that accepts connections and never answers (a wedged broker): each publish gives
    up after ``publish_timeout``, the rows stay in the outbox, and the relay stops when asked."""
    writers: list[asyncio.StreamWriter] = []

    async def never_answer(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # keep the connection open, say nothing

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    bus = RedisStreamBus.from_url(f"redis://127.0.0.1:{port}")
    outbox = InMemoryOutbox()
    for i in range(3):
        outbox.add(plan_event(i))
    relay = OutboxRelay(outbox, bus, publish_timeout=0.3, retry_base=0.05, retry_cap=0.1)
    task = asyncio.create_task(relay.run())
    try:
        # Two failures in 5 s: far sooner than the client's own 10 s socket timeout.
        await eventually(lambda: relay.stats.bus_failures >= 2, within=5)
        assert outbox.unpublished_count == 3
        assert relay.stats.published == 0
    finally:
        relay.stop()
        await asyncio.wait_for(task, 5)
        for writer in writers:
            writer.close()
        server.close()
        await bus.aclose()


async def test_consumer_killed_before_ack_is_reclaimed_without_duplicates(shared_redis):
    """A consumer process is SIGKILLed after handling its 5th event, before XACK, holding 10.

    Another consumer reclaims the 6 pending entries with XAUTOCLAIM: the one already handled
    is skipped by deduplication, the 5 never handled are delivered, and so is the rest.
    """
    client, prefix = shared_redis
    stream = f"{prefix}events"
    publisher = RedisStreamBus(client, stream=stream, channel=f"{prefix}inbox")
    events = [plan_event(i) for i in range(30)]
    for event in events:
        await publisher.publish(event)
    await client.xgroup_create(stream, "delivery", id="0")

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parents[1]), str(HERE)])}
    victim = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "crashing_consumer.py"),
        _url(client),
        prefix,
        "5",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(victim.communicate(), 60)
    assert victim.returncode == -signal.SIGKILL, stderr.decode()[-2000:]

    inbox = RecordingRedisInbox(client, prefix)
    assert len(await inbox.entries()) == 5
    pending = await client.xpending(stream, "delivery")
    assert pending["pending"] == 6, "the victim should have died holding 6 unacked entries"

    rescuer_bus = RedisStreamBus(
        client,
        stream=stream,
        channel=f"{prefix}inbox",
        consumer_name="rescuer",
        claim_idle_ms=300,
        **FAST,
    )
    dispatcher = NotificationDispatcher(
        inbox, rescuer_bus, RedisDeduplicator(client, namespace=f"{prefix}dedup")
    )
    rescuer_bus.add_consumer(dispatcher.handle)
    await rescuer_bus.start()
    try:

        async def settled() -> bool:
            return (await client.xpending(stream, "delivery"))["pending"] == 0

        for _ in range(1500):
            if len(await inbox.entries()) >= 30 and await settled():
                break
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
    finally:
        await rescuer_bus.aclose()

    entries = await inbox.entries()
    assert len(entries) == len(set(entries)) == 30, "lost or duplicated notices"
    assert sorted(entries) == sorted(f"rep-1:{e.id}" for e in events)
    assert dispatcher.skipped_duplicates == 1, "the handled-but-unacked entry was not deduped"
    assert (await client.xpending(stream, "delivery"))["pending"] == 0


async def test_hub_a_streams_what_bus_b_published_and_resumes_across_disconnects(own_redis):
    """Two API processes share Redis: only B consumes and announces; a subscriber on A gets
    everything, in order, through a client disconnect and a killed pub/sub connection."""
    bus_a = RedisStreamBus.from_url(own_redis.url, consumer_name="api-a", **FAST)
    bus_b = RedisStreamBus.from_url(own_redis.url, consumer_name="api-b", **FAST)
    admin = aioredis.Redis.from_url(own_redis.url)
    inbox = InMemoryInbox(read_delay=0.002)  # the database both processes share
    hub_a, hub_b = SubscriptionHub(inbox, page_size=7), SubscriptionHub(inbox)
    bus_a.add_listener(hub_a)
    bus_b.add_listener(hub_b)
    dispatcher = NotificationDispatcher(inbox, bus_b, RedisDeduplicator(bus_b.client))
    bus_b.add_consumer(dispatcher.handle)
    await bus_a.start()
    await bus_b.start()
    outbox = InMemoryOutbox()
    relay = OutboxRelay(outbox, bus_b, poll_interval=0.02)
    relay_task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: bus_a.subscribe_confirmations >= 1)

        # 1. Live only (no cursor, hence no replay): the item can only have come via pub/sub.
        first = plan_event(0, "rep-live")
        live: list[InboxItem] = []

        async def live_only() -> None:
            async with contextlib.aclosing(hub_a.subscribe("rep-live", None)) as items:
                async for item in items:
                    live.append(item)
                    return

        listener = asyncio.create_task(live_only())
        await eventually(lambda: hub_a.subscriber_count == 1)
        outbox.add(first)
        relay.wake()
        await asyncio.wait_for(listener, 10)
        assert [i.event.id for i in live] == [first.id] and hub_a.replays == 0

        # 2. Resume by cursor through a client disconnect and a pub/sub connection kill.
        total = 90
        events = [plan_event(i) for i in range(total)]
        received: list[InboxItem] = []

        async def session(after: int, stop_at: int) -> None:
            async with contextlib.aclosing(hub_a.subscribe("rep-1", after)) as items:
                async for item in items:
                    received.append(item)
                    if item.cursor >= stop_at:
                        return

        async def produce() -> None:
            for i, event in enumerate(events):
                outbox.add(event)
                relay.wake()
                await asyncio.sleep(0.01)
                if i == 60:
                    killed = await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
                    assert killed >= 2

        producer = asyncio.create_task(produce())
        await asyncio.wait_for(session(0, 25), 20)  # then the client drops mid-stream
        await asyncio.sleep(0.15)  # offline while events keep coming
        await asyncio.wait_for(session(received[-1].cursor, total), 30)
        await producer
    finally:
        relay.stop()
        await relay_task
        await bus_a.aclose()
        await bus_b.aclose()
        await admin.aclose()

    assert [i.cursor for i in received] == list(range(1, total + 1)), "gap or duplicate"
    assert [i.event.id for i in received] == [e.id for e in events]
    assert inbox.adds == total + 1
    assert bus_a.subscribe_confirmations >= 2, "the pub/sub kill did not force a resubscribe"


async def test_announcements_missed_while_pubsub_is_down_are_recovered_by_resync(own_redis):
    """The pub/sub connection of process A dies and the last events are announced before it is
    back; no later event arrives to reveal the gap, so only the resync can recover them."""
    bus_a = RedisStreamBus.from_url(
        own_redis.url, consumer_name="api-a", **{**FAST, "retry_base": 1.5, "retry_cap": 2.0}
    )
    bus_b = RedisStreamBus.from_url(own_redis.url, consumer_name="api-b", **FAST)
    admin = aioredis.Redis.from_url(own_redis.url)
    inbox = InMemoryInbox()
    hub_a = SubscriptionHub(inbox)
    bus_a.add_listener(hub_a)
    dispatcher = NotificationDispatcher(inbox, bus_b, RedisDeduplicator(bus_b.client))
    bus_b.add_consumer(dispatcher.handle)
    await bus_a.start()
    await bus_b.start()
    received: list[int] = []

    async def subscriber() -> None:
        async with contextlib.aclosing(hub_a.subscribe("rep-1", 0)) as items:
            async for item in items:
                received.append(item.cursor)
                if item.cursor == 8:
                    return

    task = asyncio.create_task(subscriber())
    try:
        await eventually(lambda: bus_a.subscribe_confirmations == 1 and hub_a.subscriber_count)
        for i in range(3):
            await bus_b.publish(plan_event(i))
        await eventually(lambda: received == [1, 2, 3])
        await admin.execute_command("CLIENT", "KILL", "TYPE", "pubsub")
        for i in range(3, 8):
            await bus_b.publish(plan_event(i))
        await eventually(lambda: inbox.adds == 8)
        assert bus_a.subscribe_confirmations == 1, "A reconnected too early to test the resync"
        await asyncio.wait_for(task, 15)
    finally:
        task.cancel()
        await bus_a.aclose()
        await bus_b.aclose()
        await admin.aclose()
    assert received == list(range(1, 9))
    assert bus_a.subscribe_confirmations == 2


async def test_undecodable_entry_is_dead_lettered_and_the_stream_moves_on(shared_redis):
    client, prefix = shared_redis
    bus = RedisStreamBus(client, stream=f"{prefix}events", channel=f"{prefix}inbox", **FAST)
    inbox = InMemoryInbox()
    dispatcher = NotificationDispatcher(inbox, bus, RedisDeduplicator(client, namespace=prefix))
    bus.add_consumer(dispatcher.handle)
    await client.xadd(f"{prefix}events", {"event": b"{not json"})
    good = plan_event(1)
    await bus.publish(good)
    await bus.start()
    try:
        await eventually(lambda: inbox.adds == 1)
        for _ in range(750):  # up to 15 s, like eventually(): CI machines can be busy
            # The entry is dead-lettered first and acknowledged after: wait for both.
            dead_count = await client.xlen(f"{prefix}events:dead")
            pending = (await client.xpending(f"{prefix}events", "delivery"))["pending"]
            if dead_count == 1 and pending == 0:
                break
            await asyncio.sleep(0.02)
    finally:
        await bus.aclose()
    dead = await client.xrange(f"{prefix}events:dead")
    assert len(dead) == 1 and dead[0][1][b"reason"].startswith(b"undecodable")
    assert (await client.xpending(f"{prefix}events", "delivery"))["pending"] == 0
    assert [i.event.id for i in inbox.items("rep-1")] == [good.id]


async def test_failing_handler_is_redelivered_via_reclaim_then_dead_lettered(shared_redis):
    """A handler error leaves the entry pending; XAUTOCLAIM retries it; a poison entry ends in
    the dead-letter stream after max_deliveries instead of looping forever."""
    client, prefix = shared_redis
    bus = RedisStreamBus(
        client,
        stream=f"{prefix}events",
        channel=f"{prefix}inbox",
        claim_idle_ms=100,
        max_deliveries=3,
        **FAST,
    )
    attempts: dict[str, int] = {}
    done: list[str] = []
    flaky, poison = plan_event(1), plan_event(2)

    async def handler(event: Event) -> None:
        attempts[event.id] = attempts.get(event.id, 0) + 1
        if event.id == poison.id or attempts[event.id] < 2:
            raise RuntimeError("downstream failure")
        done.append(event.id)

    bus.add_consumer(handler)
    await bus.publish(flaky)
    await bus.publish(poison)
    await bus.start()
    try:
        for _ in range(500):
            if done and await client.xlen(f"{prefix}events:dead") == 1:
                break
            await asyncio.sleep(0.02)
    finally:
        await bus.aclose()
    assert done == [flaky.id]
    assert attempts[poison.id] == 3
    dead = await client.xrange(f"{prefix}events:dead")
    assert dead[0][1][b"id"].decode() == poison.id
    assert (await client.xpending(f"{prefix}events", "delivery"))["pending"] == 0


def _url(client: aioredis.Redis) -> str:
    kw = client.connection_pool.connection_kwargs
    return f"redis://{kw.get('host', '127.0.0.1')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


class _CountingHub:
    """A live listener that records what it is handed (the hub's side of the bus contract)."""

    def __init__(self) -> None:
        self.items: list[tuple[str, int, str]] = []
        self.resyncs = 0

    def publish_local(self, item: InboxItem) -> None:
        self.items.append((item.user_id, item.cursor, item.event.id))

    def resync(self) -> None:
        self.resyncs += 1


async def test_the_announcing_process_hears_its_own_items_once_and_others_via_pubsub(own_redis):
    """Announcing hands items to this process's hubs directly and skips the pub/sub echo of
    its own message (no second delivery); other processes get them through pub/sub. A message
    in the format before origin tags (a process not yet upgraded) is still understood."""
    bus_a = RedisStreamBus.from_url(own_redis.url, consumer_name="api-a", **FAST)
    bus_b = RedisStreamBus.from_url(own_redis.url, consumer_name="api-b", **FAST)
    hub_a, hub_b = _CountingHub(), _CountingHub()
    bus_a.add_listener(hub_a)
    bus_b.add_listener(hub_b)
    await bus_a.start()
    await bus_b.start()
    try:
        await eventually(lambda: bus_a.subscribe_confirmations >= 1)
        await eventually(lambda: bus_b.subscribe_confirmations >= 1)
        events = [plan_event(i, f"rep-{i}") for i in range(3)]
        items = [InboxItem(f"rep-{i}", 1, e) for i, e in enumerate(events)]
        await bus_a.announce(items)
        expected = [(f"rep-{i}", 1, e.id) for i, e in enumerate(events)]
        assert hub_a.items == expected  # at once, before any round trip
        await eventually(lambda: len(hub_b.items) == 3)
        await asyncio.sleep(0.3)  # room for the echo to arrive at A
        assert hub_a.items == expected, "the echo of A's own message was delivered again"
        assert hub_b.items == expected

        old_style = _json.dumps(
            [{"event": events[0].to_dict(), "to": [["rep-0", 2]]}]  # a bare list of groups
        )
        await bus_a.client.publish(bus_a.channel, old_style)
        await eventually(lambda: len(hub_a.items) == 4 and len(hub_b.items) == 4)
        assert hub_a.items[-1] == hub_b.items[-1] == ("rep-0", 2, events[0].id)
    finally:
        await bus_a.aclose()
        await bus_b.aclose()
