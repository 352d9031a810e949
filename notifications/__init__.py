"""Event types, event bus (in-process or Redis), outbox relay, Web Push and subscription fan-out.

Imports nothing from :mod:`backend`; the backend implements the storage protocols
(:class:`OutboxStore`, :class:`InboxWriter`, :class:`InboxReader`,
:class:`PushSubscriptionStore`) over its database.

Flow::

    change + outbox row (one transaction, backend)
      -> OutboxRelay  -> EventBus.publish   (in-process call, or a Redis Stream entry)
      -> NotificationDispatcher.handle      (dedup on event id; consumer group on Redis)
           -> InboxWriter.add               (durable, idempotent, per-user cursor)
           -> EventBus.announce             (in-process call, or Redis pub/sub)
                -> SubscriptionHub.publish_local in every API process
                     -> hub.subscribe(user_id, after_cursor)  (replay, then live)
           -> WebPushSender                 (background; 404/410 remove, 429 waits)

Modules: ``events``, ``inbox``, ``bus``, ``bus_memory``, ``bus_redis``, ``relay``, ``dedup``,
``delivery``, ``hub``, ``push_payload``, ``vapid``, ``webpush``, ``memory``.
"""

from notifications.bus import EventBus, EventHandler, LiveListener
from notifications.bus_memory import InProcessBus
from notifications.bus_redis import RedisStreamBus
from notifications.dedup import Deduplicator, MemoryDeduplicator, RedisDeduplicator
from notifications.delivery import NotificationDispatcher, PushSubscriptionStore
from notifications.events import (
    AccountHandover,
    AccountReassigned,
    DayPlanUpdated,
    Event,
    EventDecodeError,
    EventType,
    Summary,
    TerritoryChanged,
    event_from_json,
)
from notifications.hub import SubscriptionHub
from notifications.inbox import InboxItem, InboxReader, InboxWriter
from notifications.memory import InMemoryInbox, InMemoryOutbox, InMemoryPushSubscriptions
from notifications.push_payload import MAX_PLAINTEXT, build_push_payload
from notifications.relay import OutboxRelay, OutboxRow, OutboxStore, RelayStats, run_relay
from notifications.vapid import VapidKeys
from notifications.webpush import PushOutcome, PushResult, PushSubscription, WebPushSender

__all__ = [
    "MAX_PLAINTEXT",
    "AccountHandover",
    "AccountReassigned",
    "DayPlanUpdated",
    "Deduplicator",
    "Event",
    "EventBus",
    "EventDecodeError",
    "EventHandler",
    "EventType",
    "InMemoryInbox",
    "InMemoryOutbox",
    "InMemoryPushSubscriptions",
    "InProcessBus",
    "InboxItem",
    "InboxReader",
    "InboxWriter",
    "LiveListener",
    "MemoryDeduplicator",
    "NotificationDispatcher",
    "OutboxRelay",
    "OutboxRow",
    "OutboxStore",
    "PushOutcome",
    "PushResult",
    "PushSubscription",
    "PushSubscriptionStore",
    "RedisDeduplicator",
    "RedisStreamBus",
    "RelayStats",
    "SubscriptionHub",
    "Summary",
    "TerritoryChanged",
    "VapidKeys",
    "WebPushSender",
    "build_push_payload",
    "event_from_json",
    "run_relay",
]
