"""Assembling the notification pipeline for one process.

Default (no ``FIELDREP_REDIS_URL``): in-process bus, relay and dispatcher inside the API process.
With Redis: a Redis Stream carries events to the dispatcher (consumer group, at-least-once,
reclaim of stuck messages, dedup on event id) and pub/sub wakes every API process's hub, so a
subscriber on one process hears what another published. The relay runs in the API process
unless ``FIELDREP_RUN_RELAY_IN_PROCESS=false``: then ``fieldrep relay`` runs it together with
the dispatcher, and the API processes keep only their hubs (live subscriptions).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from backend.messaging.outbox_listener import RelayLeadership
from backend.messaging.stores import SqlInbox, SqlOutboxStore, SqlPushSubscriptions
from backend.runtime import Runtime
from notifications import (
    Deduplicator,
    EventBus,
    InProcessBus,
    MemoryDeduplicator,
    NotificationDispatcher,
    OutboxRelay,
    RedisDeduplicator,
    RedisStreamBus,
    SubscriptionHub,
    VapidKeys,
    WebPushSender,
)

log = logging.getLogger(__name__)


@dataclass
class Messaging:
    """The live pieces of the pipeline in this process."""

    bus: EventBus
    hub: SubscriptionHub
    relay: OutboxRelay | None
    dispatcher: NotificationDispatcher
    push: WebPushSender | None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


def vapid_keys(runtime: Runtime) -> VapidKeys:
    """VAPID keys from ``FIELDREP_VAPID_PRIVATE_KEY`` or, in development, a key file kept in
    the data folder (so subscriptions survive restarts)."""
    settings = runtime.settings
    subject = settings.vapid_subject
    if settings.vapid_private_key:
        return VapidKeys.from_raw(settings.vapid_private_key, subject)
    path = Path(settings.data_dir) / "vapid-private.pem"
    if not path.is_file():
        _create_key_file(path, VapidKeys.generate(subject).private_pem())
    return VapidKeys.from_pem(path.read_bytes(), subject)


def _create_key_file(path: Path, pem: bytes) -> None:
    """Write the key unless another process got there first, atomically.

    API workers and ``fieldrep relay`` start together on one data folder. If each wrote the key
    it generated, the API would hand browsers one public key while the relay signed pushes with
    another, and push services would refuse every notice. So the key is written to a private
    temporary file and hard-linked into place, which fails if the name exists: the first
    process wins, the others read its key, and no one reads a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".vapid-")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
        with contextlib.suppress(FileExistsError):
            path.hardlink_to(temporary)
    finally:
        Path(temporary).unlink()


def build_messaging(runtime: Runtime, *, with_relay: bool, with_consumer: bool = True) -> Messaging:
    """Create bus, hub, dispatcher (and relay) for this process."""
    settings = runtime.settings
    inbox = SqlInbox(runtime.sessionmaker)
    bus: EventBus
    dedup: Deduplicator
    if settings.redis_url:
        # Read batches: each is one inbox transaction (see SqlInbox.add_many). Not too large: while
        # the database stores one batch, this process fans out the previous one to its sockets,
        # so a realignment's thousand notices flow through in overlapping steps.
        redis_bus = RedisStreamBus.from_url(
            settings.redis_url, batch_size=settings.delivery_batch_size
        )
        bus = redis_bus
        dedup = RedisDeduplicator(redis_bus.client)
    else:
        bus = InProcessBus()
        dedup = MemoryDeduplicator()
    push_store = SqlPushSubscriptions(runtime.sessionmaker)
    push = (
        WebPushSender(
            vapid_keys(runtime),
            on_gone=push_store.remove,
            endpoint_policy=settings.push_endpoint_policy,
        )
        if settings.web_push
        else None
    )
    dispatcher = NotificationDispatcher(
        inbox, bus, dedup, push=push, push_store=push_store if push else None
    )
    if with_consumer:
        if isinstance(bus, RedisStreamBus):
            bus.add_consumer(dispatcher.handle, batch_handler=dispatcher.handle_many)
        else:
            bus.add_consumer(dispatcher.handle)
    hub = SubscriptionHub(inbox)
    bus.add_listener(hub)
    relay = (
        OutboxRelay(
            SqlOutboxStore(runtime.sessionmaker),
            bus,
            batch_size=500,
            poll_interval=settings.relay_poll_seconds,
        )
        if with_relay
        else None
    )
    return Messaging(bus=bus, hub=hub, relay=relay, dispatcher=dispatcher, push=push)


@contextlib.asynccontextmanager
async def running_messaging(runtime: Runtime) -> AsyncIterator[Messaging]:
    """Start the pipeline for the app's lifetime; the relay wakes on ``runtime.wake_relay``.

    On PostgreSQL the relay publishes only while it leads (one relay per database) and then
    also wakes on outbox commits made by other processes (see ``outbox_listener``).
    """
    # The delivery work (inbox writes, Web Push) goes where the relay goes: with `fieldrep relay`
    # as its own process, API processes only fan out to their sockets, on a core of their own.
    in_process = runtime.settings.run_relay_in_process
    messaging = build_messaging(runtime, with_relay=in_process, with_consumer=in_process)
    runtime.extras["messaging"] = messaging
    await messaging.bus.start()
    if messaging.relay is not None:
        relay = messaging.relay
        messaging.tasks.append(asyncio.create_task(relay.run(), name="outbox-relay"))

        async def forward_wakeups() -> None:
            while True:
                await runtime.relay_wakeup.wait()
                runtime.relay_wakeup.clear()
                relay.wake()

        messaging.tasks.append(asyncio.create_task(forward_wakeups(), name="relay-wakeups"))
        database_url = runtime.settings.effective_database_url
        if database_url.startswith("postgresql"):
            leadership = RelayLeadership(database_url, relay.wake)
            relay.is_leader = leadership
            messaging.tasks.append(asyncio.create_task(leadership.run(), name="relay-leadership"))
    try:
        yield messaging
    finally:
        if messaging.relay is not None:
            messaging.relay.stop()
        for task in messaging.tasks:
            task.cancel()
        for task in messaging.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await messaging.dispatcher.drain()
        await messaging.bus.aclose()
        if messaging.push is not None:
            await messaging.push.aclose()
        runtime.extras.pop("messaging", None)
