"""Fan-out latency to N live subscribers through Redis (bus level, not WebSocket).

Two scenarios, each with N subscribers (one per user) on hub A, whose single pub/sub reader is
bus A, while another bus instance (B) plays the other API process:

* ``announce``: B announces one event to all N users (one PUBLISH carrying N cursors); latency
  runs from just before the PUBLISH to each subscriber's ``async for`` receiving its item.
* ``pipeline``: an event for all N users enters the outbox; the relay publishes it to the
  Stream, B's dispatcher consumes it, writes N inbox items (in memory), announces them, and hub
  A fans them out; latency runs from the outbox insert to each receipt.

Everything runs in one process and one event loop (publisher, reader and N subscriber tasks),
so the figures include the subscribers' own scheduling cost. The end-to-end WebSocket figure is
measured separately.

Usage: python bench/bench_notifications.py [--redis URL] [--subscribers 1000] [--rounds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import platform
import statistics
import time
import uuid
from datetime import date

import redis.asyncio as aioredis

from notifications import (
    DayPlanUpdated,
    InMemoryInbox,
    InMemoryOutbox,
    NotificationDispatcher,
    OutboxRelay,
    RedisDeduplicator,
    RedisStreamBus,
    SubscriptionHub,
)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def describe(name: str, samples: list[float], last: list[float]) -> str:
    ms = [s * 1000 for s in samples]
    lm = [s * 1000 for s in last]
    return (
        f"| {name} | {len(ms)} | {statistics.median(ms):.2f} | {pct(ms, 0.95):.2f} | "
        f"{pct(ms, 0.99):.2f} | {max(ms):.2f} | {pct(lm, 0.95):.2f} |"
    )


async def run(url: str, n: int, rounds: int) -> list[str]:
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    opts = {"stream": f"{prefix}events", "channel": f"{prefix}inbox", "block_ms": 100}
    bus_a = RedisStreamBus.from_url(url, consumer_name="api-a", **opts)
    bus_b = RedisStreamBus.from_url(url, consumer_name="api-b", **opts)
    inbox = InMemoryInbox()
    hub = SubscriptionHub(inbox)
    bus_a.add_listener(hub)
    dispatcher = NotificationDispatcher(
        inbox, bus_b, RedisDeduplicator(bus_b.client, namespace=f"{prefix}dedup")
    )
    bus_b.add_consumer(dispatcher.handle)
    await bus_a.start()
    await bus_b.start()
    users = [f"user-{i}" for i in range(n)]
    arrivals: dict[str, list[float]] = {}
    complete: dict[str, asyncio.Event] = {}

    async def subscriber(user: str) -> None:
        async with contextlib.aclosing(hub.subscribe(user, None)) as items:
            async for item in items:
                got = arrivals.setdefault(item.event.id, [])
                got.append(time.perf_counter())
                if len(got) == n:
                    complete.setdefault(item.event.id, asyncio.Event()).set()

    tasks = [asyncio.create_task(subscriber(u)) for u in users]
    while hub.subscriber_count < n or bus_a.subscribe_confirmations < 1:
        await asyncio.sleep(0.01)

    async def wait_all(event_id: str) -> None:
        await complete.setdefault(event_id, asyncio.Event()).wait()

    lines = []
    # Scenario 1: announce only.
    samples: list[float] = []
    lasts: list[float] = []
    for r in range(rounds + 3):
        event = DayPlanUpdated("ops", date(2025, 3, 3), r).to_event(recipients=users)
        items = [(await inbox.add(u, event))[0] for u in users]  # stored first, untimed
        start = time.perf_counter()
        await bus_b.announce(items)
        await asyncio.wait_for(wait_all(event.id), 30)
        if r >= 3:  # warm-up rounds excluded
            lat = [t - start for t in arrivals[event.id]]
            samples += lat
            lasts.append(max(lat))
    lines.append(describe("announce (pub/sub -> hub -> queues)", samples, lasts))

    # Scenario 2: outbox -> relay -> Stream -> dispatcher -> inbox -> announce -> hub.
    outbox = InMemoryOutbox()
    relay = OutboxRelay(outbox, bus_b, poll_interval=0.5)
    relay_task = asyncio.create_task(relay.run())
    samples, lasts = [], []
    for r in range(rounds + 3):
        event = DayPlanUpdated("ops", date(2025, 3, 4), r).to_event(recipients=users)
        start = time.perf_counter()
        outbox.add(event)
        relay.wake()
        await asyncio.wait_for(wait_all(event.id), 30)
        if r >= 3:
            lat = [t - start for t in arrivals[event.id]]
            samples += lat
            lasts.append(max(lat))
    lines.append(
        describe("pipeline (outbox -> relay -> Stream -> dispatch -> hub)", samples, lasts)
    )

    relay.stop()
    await relay_task
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await bus_a.aclose()
    await bus_b.aclose()
    cleanup = aioredis.Redis.from_url(url)
    async for key in cleanup.scan_iter(match=f"{prefix}*"):
        await cleanup.delete(key)
    await cleanup.aclose()
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    lines = asyncio.run(run(args.redis, args.subscribers, args.rounds))
    print(
        f"{args.subscribers} subscribers, {args.rounds} rounds, Python "
        f"{platform.python_version()}, {platform.machine()}"
    )
    print("| scenario | samples | p50 ms | p95 ms | p99 ms | max ms | p95 of last-arrival ms |")
    print("|---|---|---|---|---|---|---|")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
