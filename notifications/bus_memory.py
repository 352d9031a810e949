"""The in-process bus: the default when one API process serves everyone.

Why synchronous hand-off: :meth:`InProcessBus.publish` awaits the consumers and raises if one
fails, so the relay only marks an outbox row published after its notices are stored. That keeps
the outbox guarantee (nothing lost between commit and delivery) without any broker.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from notifications.bus import EventHandler, LiveListener
from notifications.events import Event
from notifications.inbox import InboxItem

log = logging.getLogger(__name__)


class InProcessBus:
    """An :class:`~notifications.bus.EventBus` that calls its consumers and listeners directly.

    Example:
        >>> bus = InProcessBus()
        >>> bus.add_consumer(dispatcher.handle)  # doctest: +SKIP
        >>> bus.add_listener(hub)  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._consumers: list[EventHandler] = []
        self._listeners: list[LiveListener] = []

    def add_consumer(self, handler: EventHandler) -> None:
        """Register a consumer; each published event is awaited through every consumer."""
        self._consumers.append(handler)

    def add_listener(self, listener: LiveListener) -> None:
        """Register a hub for announcements."""
        self._listeners.append(listener)

    async def publish(self, event: Event) -> None:
        """Run every consumer on ``event``; a consumer's exception propagates to the relay.

        A consumer that ran before a failing one sees the event again on the relay's retry,
        which is why consumers deduplicate on the event id.
        """
        for handler in self._consumers:
            await handler(event)

    async def announce(self, items: Sequence[InboxItem]) -> None:
        """Hand each item to every local listener."""
        for listener in self._listeners:
            for item in items:
                listener.publish_local(item)

    async def start(self) -> None:
        """Nothing to start: there is no background reader."""

    async def aclose(self) -> None:
        """Nothing to release."""


__all__ = ["InProcessBus"]
