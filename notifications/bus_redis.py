"""The Redis bus for several API processes: a Stream for events, pub/sub for live wake-ups.

Why a Stream with a consumer group: an entry stays in the group's pending list until a consumer
acknowledges it (XACK) after handling, so a consumer that dies mid-way does not lose it; another
consumer takes it over with XAUTOCLAIM once it has been idle for ``claim_idle_ms``. That is
at-least-once delivery; consumers deduplicate on the event id to make it effectively once.

Why pub/sub for the live lane: every API process must see every announcement (a consumer group
would give each to only one process), and a missed announcement is harmless because hubs replay
from the inbox. The reader counts SUBSCRIBE confirmations: every confirmation after a
(re)connect tells the listeners to resync, so messages published while the connection was down
are recovered from the inbox. One pub/sub connection per process feeds all its subscribers.

Key layout (all configurable): ``fieldrep:events`` (the Stream), ``fieldrep:events:dead``
(entries that could not be decoded or failed ``max_deliveries`` times), ``fieldrep:inbox``
(the pub/sub channel).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from notifications import _json
from notifications._backoff import Backoff
from notifications.bus import EventHandler, LiveListener
from notifications.events import Event, EventDecodeError, event_from_json
from notifications.inbox import InboxItem

log = logging.getLogger(__name__)

_ZERO_ID = b"0-0"


def default_consumer_name() -> str:
    """Return a name unique to this process (host, pid and a random suffix)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


BatchHandler = Callable[[list[Event]], Awaitable[None]]


def _recipients(fields: dict[bytes, bytes]) -> list[str]:
    try:
        data = _json.loads(fields.get(b"event") or b"{}")
        return [str(r) for r in data.get("recipients", [])]
    except (ValueError, AttributeError):
        return []


def _lanes(
    entries: list[tuple[bytes, dict[bytes, bytes]]],
) -> list[list[tuple[bytes, dict[bytes, bytes]]]]:
    """Group entries that share a recipient (union-find), keeping stream order in each group."""
    parent = list(range(len(entries)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for index, (_entry_id, fields) in enumerate(entries):
        for recipient in _recipients(fields) or ["<undecodable>"]:
            if recipient in owner:
                parent[root(index)] = root(owner[recipient])
            else:
                owner[recipient] = index
    groups: dict[int, list[tuple[bytes, dict[bytes, bytes]]]] = {}
    for index, entry in enumerate(entries):
        groups.setdefault(root(index), []).append(entry)
    return list(groups.values())


class _Consumer:
    """One consumer-group reader: read, handle, acknowledge; reclaim what others left idle."""

    def __init__(
        self,
        bus: RedisStreamBus,
        handler: EventHandler,
        group: str,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        self.bus = bus
        self.handler = handler
        self.batch_handler = batch_handler
        self.group = group
        self.group_ready = False

    async def ensure_group(self) -> None:
        # Start at 0, not $: events the relay published before the group existed still count.
        try:
            await self.bus.client.xgroup_create(self.bus.stream, self.group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self.group_ready = True

    async def run(self) -> None:
        backoff = Backoff(self.bus.retry_base, self.bus.retry_cap)
        next_claim = 0.0
        while True:
            try:
                if not self.group_ready:
                    await self.ensure_group()
                if time.monotonic() >= next_claim:
                    await self.reclaim()
                    next_claim = time.monotonic() + self.bus.claim_interval
                response: Any = await self.bus.client.xreadgroup(
                    self.group,
                    self.bus.consumer_name,
                    {self.bus.stream: ">"},
                    count=self.bus.batch_size,
                    block=self.bus.block_ms,
                )
                for _stream, entries in response or []:
                    await self.handle_batch(entries)
                backoff.reset()
            except asyncio.CancelledError:
                raise
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    # Redis restarted without persistence, or someone deleted the stream.
                    log.warning("consumer group %s vanished; recreating it", self.group)
                    self.group_ready = False
                    continue
                log.exception("Redis refused a consumer command")
                await asyncio.sleep(backoff.next_delay())
            except (RedisError, OSError) as exc:
                delay = backoff.next_delay()
                log.warning("Redis unavailable for consumer (%r); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)

    async def handle_batch(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
        """Handle a batch concurrently, one sequential lane per group of related entries.

        Entries that share a recipient stay in one lane, in stream order, so each user's
        notices keep their order; unrelated lanes (a realignment notifying hundreds of reps)
        run side by side, ``bus.lanes`` at a time.
        """
        if len(entries) == 1:
            await self.handle(*entries[0])
            return
        if self.batch_handler is not None and await self._handle_as_batch(entries):
            return
        lanes = _lanes(entries)
        slots = asyncio.Semaphore(self.bus.lanes)

        async def run_lane(lane: list[tuple[bytes, dict[bytes, bytes]]]) -> None:
            async with slots:
                for entry_id, fields in lane:
                    await self.handle(entry_id, fields)

        await asyncio.gather(*(run_lane(lane) for lane in lanes))

    async def _handle_as_batch(self, entries: list[tuple[bytes, dict[bytes, bytes]]]) -> bool:
        """One call for the whole batch (group commit); False means "go entry by entry"."""
        assert self.batch_handler is not None
        try:
            events = [event_from_json(fields[b"event"]) for _entry_id, fields in entries]
        except (EventDecodeError, KeyError):
            return False  # let the per-entry path dead-letter the bad one
        try:
            await self.batch_handler(events)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("batch of %d failed; handling its entries one by one", len(entries))
            return False
        await self.bus.client.xack(self.bus.stream, self.group, *[e for e, _f in entries])
        return True

    async def handle(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        raw = fields.get(b"event")
        try:
            if raw is None:
                raise EventDecodeError("entry has no 'event' field")
            event = event_from_json(raw)
        except EventDecodeError as exc:
            await self.dead_letter(entry_id, fields, f"undecodable: {exc}")
            return
        try:
            await self.handler(event)
        except asyncio.CancelledError:
            raise
        except Exception:
            # Leave it pending: XAUTOCLAIM hands it out again after claim_idle_ms.
            log.exception("handler failed for event %s; it stays pending", event.id)
            return
        await self.bus.client.xack(self.bus.stream, self.group, entry_id)

    async def dead_letter(self, entry_id: bytes, fields: dict[bytes, bytes], reason: str) -> None:
        log.error("dead-lettering stream entry %s: %s", _text(entry_id), reason)
        body: dict[Any, Any] = {**fields, b"entry_id": entry_id, b"reason": reason.encode()}
        await self.bus.client.xadd(self.bus.dead_letter_stream, body, maxlen=100_000)
        await self.bus.client.xack(self.bus.stream, self.group, entry_id)

    async def reclaim(self) -> None:
        """Take over entries idle for ``claim_idle_ms`` in any consumer's pending list."""
        client, stream = self.bus.client, self.bus.stream
        start: bytes | str = _ZERO_ID
        while True:
            response = await client.xautoclaim(
                stream,
                self.group,
                self.bus.consumer_name,
                min_idle_time=self.bus.claim_idle_ms,
                start_id=start,
                count=self.bus.batch_size,
            )
            start, entries = response[0], response[1]
            if len(response) > 2 and response[2]:
                log.error("entries trimmed before delivery: %s", [_text(i) for i in response[2]])
            for entry_id, fields in entries:
                if fields is None:
                    continue
                pending = await client.xpending_range(
                    stream, self.group, min=entry_id, max=entry_id, count=1
                )
                deliveries = int(pending[0]["times_delivered"]) if pending else 1
                if deliveries > self.bus.max_deliveries:
                    await self.dead_letter(entry_id, fields, f"failed {deliveries - 1} times")
                    continue
                log.info("reclaimed entry %s (delivery %d)", _text(entry_id), deliveries)
                await self.handle(entry_id, fields)
            if _text(start) == "0-0":
                break
        await self.forget_idle_consumers()

    async def forget_idle_consumers(self) -> None:
        """Delete consumers with nothing pending that were idle for a day (old processes)."""
        for info in await self.bus.client.xinfo_consumers(self.bus.stream, self.group):
            name = _text(info["name"])
            if name != self.bus.consumer_name and not info["pending"] and info["idle"] > 86_400_000:
                await self.bus.client.xgroup_delconsumer(self.bus.stream, self.group, name)


SHUTDOWN_SECONDS = 5.0
"""How long :meth:`RedisStreamBus.aclose` waits for its cancelled readers."""

_XADD_MANY = """
local maxlen = tonumber(ARGV[1])
for i = 2, #ARGV, 2 do
  if maxlen > 0 then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', maxlen, '*', 'id', ARGV[i], 'event', ARGV[i + 1])
  else
    redis.call('XADD', KEYS[1], '*', 'id', ARGV[i], 'event', ARGV[i + 1])
  end
end
return (#ARGV - 1) / 2
"""


class RedisStreamBus:
    """An :class:`~notifications.bus.EventBus` over Redis, shared by several processes.

    Each process creates one, registers its delivery handler (:meth:`add_consumer`) and its
    hub (:meth:`add_listener`), and calls :meth:`start`. Publishing works without starting.

    Args:
        client: A ``redis.asyncio`` client with ``decode_responses=False``.
        stream: Stream key for events.
        channel: Pub/sub channel for inbox announcements.
        group: Default consumer group of :meth:`add_consumer`.
        consumer_name: This process's name in the group; unique per process.
        maxlen: Approximate Stream length cap. Entries beyond it are trimmed even if unread, so
            it must exceed any backlog the consumers can build up (a million by default).
        batch_size: Entries read or reclaimed per call.
        block_ms: How long XREADGROUP waits for new entries.
        claim_idle_ms: Idle time after which another consumer reclaims a pending entry. Must
            exceed the slowest normal handling of one batch, or healthy work is handled twice.
        claim_interval: Seconds between reclaim passes.
        max_deliveries: Deliveries after which an entry is moved to the dead-letter stream.
        retry_base: First backoff delay after a Redis error, in seconds.
        retry_cap: Largest backoff delay, in seconds.

    Example:
        >>> bus = RedisStreamBus.from_url("redis://localhost:6379/0")  # doctest: +SKIP
        >>> bus.add_consumer(dispatcher.handle)  # doctest: +SKIP
        >>> bus.add_listener(hub)  # doctest: +SKIP
        >>> await bus.start()  # doctest: +SKIP
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        stream: str = "fieldrep:events",
        channel: str = "fieldrep:inbox",
        group: str = "delivery",
        consumer_name: str | None = None,
        maxlen: int | None = 1_000_000,
        batch_size: int = 100,
        block_ms: int = 1000,
        claim_idle_ms: int = 30_000,
        claim_interval: float = 5.0,
        max_deliveries: int = 10,
        retry_base: float = 0.2,
        retry_cap: float = 10.0,
        lanes: int = 16,
    ) -> None:
        self.client = client
        self.stream = stream
        self.dead_letter_stream = f"{stream}:dead"
        self.channel = channel
        self.group = group
        self.consumer_name = consumer_name or default_consumer_name()
        self.maxlen = maxlen
        self.batch_size = batch_size
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.claim_interval = claim_interval
        self.max_deliveries = max_deliveries
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.lanes = lanes
        self._consumers: list[_Consumer] = []
        self._listeners: list[LiveListener] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._owns_client = False
        self._xadd_many = client.register_script(_XADD_MANY)
        self.subscribe_confirmations = 0
        """How many times the pub/sub reader (re)subscribed; each one triggered a resync."""
        self.origin = uuid.uuid4().hex
        """Tags this bus's announcements, so its own pub/sub reader skips their echo."""

    @classmethod
    def from_url(cls, url: str, **options: Any) -> RedisStreamBus:
        """Create a bus with its own client for ``url``; :meth:`aclose` closes the client.

        The socket timeout leaves room for the blocking XREADGROUP but detects a dead server.
        """
        client = aioredis.Redis.from_url(
            url, decode_responses=False, socket_timeout=10, socket_connect_timeout=5
        )
        bus = cls(client, **options)
        bus._owns_client = True
        return bus

    # -- producer side -------------------------------------------------------------------

    async def publish(self, event: Event) -> None:
        """Append ``event`` to the Stream (raises ``RedisError`` when Redis is unreachable).

        The entry carries the event id so tools can correlate; consumers read ``event``.
        """
        fields: dict[Any, Any] = {"id": event.id, "event": event.to_json()}
        await self.client.xadd(self.stream, fields, maxlen=self.maxlen, approximate=True)

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Append several events with one script call (the relay's batches).

        One command instead of one ``XADD`` each: the entries are the same, but the client
        packs and parses one request, not a thousand. The script runs atomically, so a batch
        is appended whole or (Redis down) not at all, and the relay retries it.
        """
        if not events:
            return
        args: list[Any] = [self.maxlen or 0]
        for event in events:
            args += [event.id, event.to_json()]
        await self._xadd_many(keys=[self.stream], args=args)

    async def announce(self, items: Sequence[InboxItem]) -> None:
        """Publish ``items`` on the channel, grouped by event so a payload is sent once.

        Best effort: a Redis error is logged, not raised, because the items are already in the
        inbox and subscribers replay from it after the listener's reconnect.

        This process's own hubs get the items directly, before the message goes out: when the
        dispatcher runs in an API process (the default), its subscribers hear at once instead
        of after a round trip through Redis and a re-parse of every event, and the echo of the
        message is skipped by its ``origin``.
        """
        if not items:
            return
        for listener in self._listeners:
            for item in items:
                listener.publish_local(item)
        groups: dict[str, dict[str, Any]] = {}
        for item in items:
            group = groups.setdefault(item.event.id, {"event": item.event.to_dict(), "to": []})
            group["to"].append([item.user_id, item.cursor])
        message = _json.dumps({"origin": self.origin, "groups": list(groups.values())})
        try:
            await self.client.publish(self.channel, message)
        except (RedisError, OSError) as exc:
            log.warning("announce failed (%r); subscribers will catch up on resync", exc)

    # -- consumer side -------------------------------------------------------------------

    def add_consumer(
        self,
        handler: EventHandler,
        *,
        group: str | None = None,
        batch_handler: BatchHandler | None = None,
    ) -> None:
        """Register ``handler`` as this process's member of ``group`` (default: ``group``).

        Handlers registered under different groups each receive every event. With
        ``batch_handler``, each read batch is first offered whole (one inbox transaction for
        hundreds of notices); if it raises, the entries are handled one by one by ``handler``.
        """
        name = group or self.group
        if any(c.group == name for c in self._consumers):
            raise ValueError(f"a consumer for group {name!r} is already registered")
        self._consumers.append(_Consumer(self, handler, name, batch_handler))

    def add_listener(self, listener: LiveListener) -> None:
        """Register a hub for announcements from every process."""
        self._listeners.append(listener)

    async def start(self) -> None:
        """Start one task per consumer group and one pub/sub reader if a hub is registered."""
        if self._tasks:
            return
        for consumer in self._consumers:
            self._tasks.append(asyncio.create_task(consumer.run(), name=f"stream:{consumer.group}"))
        if self._listeners:
            self._tasks.append(asyncio.create_task(self._listen(), name="pubsub"))

    async def aclose(self) -> None:
        """Stop the readers; close the client if :meth:`from_url` created it.

        Shutdown is bounded: a reader that does not finish within ``SHUTDOWN_SECONDS`` of being
        cancelled (a Redis call wedged on a dead connection) is left behind with a warning
        rather than keeping the process from exiting.
        """
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _done, stuck = await asyncio.wait(self._tasks, timeout=SHUTDOWN_SECONDS)
            if stuck:
                log.warning("%d Redis reader(s) did not stop in time; leaving them", len(stuck))
        self._tasks.clear()
        if self._owns_client:
            await self.client.aclose()

    async def reclaim_now(self) -> None:
        """Run one reclaim pass for every registered group (operators, tests)."""
        for consumer in self._consumers:
            if not consumer.group_ready:
                await consumer.ensure_group()
            await consumer.reclaim()

    # -- live lane -----------------------------------------------------------------------

    async def _listen(self) -> None:
        backoff = Backoff(self.retry_base, self.retry_cap)
        while True:
            pubsub = self.client.pubsub()
            try:
                await pubsub.subscribe(self.channel)
                while True:
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None:
                        continue
                    backoff.reset()
                    self._on_message(message)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                delay = backoff.next_delay()
                log.warning("pub/sub reader lost Redis (%r); retrying in %.2fs", exc, delay)
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _on_message(self, message: dict[str, Any]) -> None:
        kind = _text(message["type"])
        if kind == "subscribe":
            # A (re)subscription, including redis-py's silent reconnects: announcements sent
            # while we were away are lost, so every subscriber replays from its cursor.
            self.subscribe_confirmations += 1
            for listener in self._listeners:
                listener.resync()
            return
        if kind != "message":
            return
        try:
            data = _json.loads(message["data"])
            if isinstance(data, dict):
                if data.get("origin") == self.origin:
                    return  # announced here, delivered locally already
                groups = data["groups"]
            else:
                groups = data  # a process of the version before origin tags (rolling upgrade)
            for group in groups:
                event = Event.from_dict(group["event"])
                for user_id, cursor in group["to"]:
                    item = InboxItem(str(user_id), int(cursor), event)
                    for listener in self._listeners:
                        listener.publish_local(item)
        except (ValueError, KeyError, TypeError):
            log.exception("ignoring a malformed announcement")


__all__ = ["RedisStreamBus", "default_consumer_name"]
