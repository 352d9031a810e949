"""What every event bus offers: a durable event lane and a live wake-up lane.

Why two lanes: the *event* lane (:meth:`EventBus.publish`) carries outbox events to the
delivery consumer with at-least-once semantics, because a lost event is a lost notice. The
*live* lane (:meth:`EventBus.announce`) carries freshly stored inbox items to every API
process's :class:`~notifications.hub.SubscriptionHub`; it may lose messages (Redis pub/sub is
at-most-once), which is fine because the inbox is the source of truth and hubs replay from it by
cursor after a reconnect (:meth:`LiveListener.resync`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from notifications.events import Event
from notifications.inbox import InboxItem

EventHandler = Callable[[Event], Awaitable[None]]
"""Consumes one event. Raising means "not handled": the bus redelivers it later."""


class LiveListener(Protocol):
    """Receives inbox items announced by any process (implemented by the hub)."""

    def publish_local(self, item: InboxItem) -> None:
        """Hand a new item to the local subscribers of ``item.user_id``; must not block."""
        ...

    def resync(self) -> None:
        """Announcements may have been missed: every subscriber must replay from the inbox."""
        ...


class EventBus(Protocol):
    """The contract shared by :class:`InProcessBus` and :class:`RedisStreamBus`."""

    async def publish(self, event: Event) -> None:
        """Hand ``event`` to the consumers durably; raise if that could not be ensured."""
        ...

    async def announce(self, items: Sequence[InboxItem]) -> None:
        """Wake the live subscribers of ``items`` in every process (best effort)."""
        ...

    def add_consumer(self, handler: EventHandler) -> None:
        """Register the delivery handler (call before :meth:`start`)."""
        ...

    def add_listener(self, listener: LiveListener) -> None:
        """Register a hub that receives announcements (call before :meth:`start`)."""
        ...

    async def start(self) -> None:
        """Start background readers, if the bus has any."""
        ...

    async def aclose(self) -> None:
        """Stop background readers and release connections."""
        ...


__all__ = ["EventBus", "EventHandler", "LiveListener"]
