"""The transactional-outbox relay: moves committed outbox rows onto the bus.

Why an outbox: the backend writes each event in the same transaction as the change, so a crash
between commit and publish cannot lose it. The relay publishes rows oldest first and marks them
published only after the bus accepted them. When the bus fails (Redis down), the rows simply stay
unpublished and the relay retries with backoff; it never drops a row and never exits on a bus
error. A crash after publishing but before marking republishes the row later, which consumers
absorb by deduplicating on the event id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from notifications._backoff import Backoff
from notifications.bus import EventBus
from notifications.events import Event

log = logging.getLogger(__name__)

OutboxId = int | str
"""The outbox table's primary key (an integer in the backend's table; text in fakes)."""


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One committed, possibly unpublished, outbox row."""

    id: OutboxId
    event: Event


class OutboxStore(Protocol):
    """The outbox table (the backend implements it over SQL)."""

    async def fetch_unpublished(self, limit: int) -> Sequence[OutboxRow]:
        """Return up to ``limit`` unpublished rows, oldest first.

        If several relays may run at once, lock the rows (``FOR UPDATE SKIP LOCKED`` in the
        same transaction as :meth:`mark_published`) or accept duplicate publishes, which
        consumers deduplicate.
        """
        ...

    async def mark_published(self, ids: Sequence[OutboxId]) -> None:
        """Mark these rows published (delete them or set ``published_at``)."""
        ...


@dataclass(slots=True)
class RelayStats:
    """Counters for logs and health checks."""

    published: int = 0
    bus_failures: int = 0
    last_error: str | None = None
    batches: int = field(default=0)


class OutboxRelay:
    """Polls the outbox and publishes rows to the bus, retrying failures with backoff.

    Args:
        store: The outbox.
        bus: Where events go.
        batch_size: Rows fetched per poll.
        poll_interval: Seconds between polls when the outbox is empty. :meth:`wake` cuts the
            wait short, so the API process can call it after committing a change.
        retry_base: First delay after a failure, in seconds.
        retry_cap: Largest delay after repeated failures, in seconds.
        is_leader: Whether this relay may publish now. Several processes may run a relay over
            one outbox; each would publish every row (consumers deduplicate, so nothing is
            delivered twice, but all the work is repeated). With a leadership check only one
            publishes and the others stand by. Default: always.
        publish_timeout: Seconds a publish may take before it counts as a failure and is
            retried. A bus call that never returns (a connection wedged across a broker
            restart) would otherwise stop the relay for good, with every later notice queued
            behind it. A publish that did reach the bus is published again: consumers
            deduplicate.

    Example:
        >>> relay = OutboxRelay(store, bus)  # doctest: +SKIP
        >>> task = asyncio.create_task(relay.run())  # doctest: +SKIP
        >>> relay.stop(); await task  # doctest: +SKIP
    """

    def __init__(
        self,
        store: OutboxStore,
        bus: EventBus,
        *,
        batch_size: int = 100,
        poll_interval: float = 0.5,
        retry_base: float = 0.2,
        retry_cap: float = 30.0,
        is_leader: Callable[[], bool] | None = None,
        publish_timeout: float = 15.0,
    ) -> None:
        self.store = store
        self.publish_timeout = publish_timeout
        self.is_leader = is_leader
        self.bus = bus
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.stats = RelayStats()
        self._backoff = Backoff(retry_base, retry_cap)
        self._wake = asyncio.Event()
        self._stopping = False

    def wake(self) -> None:
        """Poll now instead of at the next interval (call after committing an outbox row)."""
        self._wake.set()

    def stop(self) -> None:
        """Ask :meth:`run` to return after the current batch."""
        self._stopping = True
        self._wake.set()

    async def relay_once(self) -> int:
        """Publish one batch in order; mark the published prefix even if a later row fails.

        Returns:
            The number of rows published.

        Raises:
            Exception: Whatever the bus or the store raised; unpublished rows stay in the outbox.
        """
        if self.is_leader is not None and not self.is_leader():
            return 0
        rows = await self.store.fetch_unpublished(self.batch_size)
        done: list[OutboxId] = []
        publish_many = getattr(self.bus, "publish_many", None)
        try:
            if publish_many is not None and len(rows) > 1:
                # One round trip for the batch; all-or-nothing, so the prefix rule still holds.
                async with asyncio.timeout(self.publish_timeout):
                    await publish_many([row.event for row in rows])
                done.extend(row.id for row in rows)
            else:
                for row in rows:
                    async with asyncio.timeout(self.publish_timeout):
                        await self.bus.publish(row.event)
                    done.append(row.id)
        finally:
            if done:
                await self.store.mark_published(done)
                self.stats.published += len(done)
        self.stats.batches += 1
        return len(done)

    async def run(self) -> None:
        """Relay until :meth:`stop`; bus and store errors are logged and retried, not raised."""
        self._stopping = False
        while not self._stopping:
            self._wake.clear()
            try:
                published = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.stats.bus_failures += 1
                self.stats.last_error = repr(exc)
                delay = self._backoff.next_delay()
                log.warning("relay failed (%r); rows kept, retrying in %.2fs", exc, delay)
                await self._sleep(delay)
                continue
            self._backoff.reset()
            if published < self.batch_size:
                await self._sleep(self.poll_interval)

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=seconds)


async def run_relay(
    store: OutboxStore,
    bus: EventBus,
    *,
    stop: asyncio.Event | None = None,
    batch_size: int = 100,
    poll_interval: float = 0.5,
) -> None:
    """Run a relay until ``stop`` is set or the task is cancelled (``fieldrep relay``).

    Starts ``bus`` (so a production relay process may also host consumers) and closes it on
    the way out.
    """
    relay = OutboxRelay(store, bus, batch_size=batch_size, poll_interval=poll_interval)
    await bus.start()
    task = asyncio.create_task(relay.run(), name="outbox-relay")
    try:
        if stop is None:
            await task
        else:
            await stop.wait()
            relay.stop()
            await task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await bus.aclose()


__all__ = ["OutboxId", "OutboxRelay", "OutboxRow", "OutboxStore", "RelayStats", "run_relay"]
