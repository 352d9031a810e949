"""Which process relays the outbox, and waking it when outbox rows commit (PostgreSQL).

Several processes may run a relay over one outbox: ``fieldrep serve --workers N`` runs one in
every worker, and a deployment may run more than one ``fieldrep relay``. Each would publish
every row; consumers deduplicate, so nothing is delivered twice, but every step is repeated
and the processes race each other. So one relay leads: the one whose dedicated connection holds
a PostgreSQL advisory lock. The others stand by and try again every ``standby_seconds``; a
leader that dies loses its connection and with it the lock, so a stand-by takes over within
that time.

The leader also listens: writers ``NOTIFY`` in the transaction that adds outbox rows
(``record_events``) and PostgreSQL delivers it at commit, so a commit made in any process wakes
the leader at once instead of at its next poll. The poll stays as the safety net.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import asyncpg
from sqlalchemy.engine import make_url

from backend.services.outbox import OUTBOX_CHANNEL
from notifications._backoff import Backoff

log = logging.getLogger(__name__)

RELAY_LOCK_KEY = 0x6669_656C_6472_6570  # "fieldrep": the advisory lock the leading relay holds
"""Advisory locks are per database, so deployments sharing a server do not interfere."""


def asyncpg_dsn(database_url: str) -> str:
    """The plain ``postgresql://`` form of a SQLAlchemy URL (asyncpg does not take dialects)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class RelayLeadership:
    """Holds (or waits for) the relay lock; call the instance to ask "may I publish now?".

    Args:
        database_url: The outbox's database (PostgreSQL).
        wake: Called when this process becomes the leader and on every outbox commit after.
        standby_seconds: How often a stand-by tries to take the lock.
    """

    def __init__(
        self, database_url: str, wake: Callable[[], None], *, standby_seconds: float = 1.0
    ) -> None:
        self._dsn = asyncpg_dsn(database_url)
        self._wake = wake
        self._standby_seconds = standby_seconds
        self.is_leader = False

    def __call__(self) -> bool:
        return self.is_leader

    async def run(self) -> None:
        """Lead or stand by until cancelled; reconnect with backoff when the link drops."""
        backoff = Backoff(0.2, 10.0)
        while True:
            try:
                conn = await asyncpg.connect(self._dsn)
            except (OSError, asyncpg.PostgresError) as exc:
                delay = backoff.next_delay()
                log.warning("relay leadership: cannot connect (%r); retry in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            backoff.reset()
            try:
                await self._lead_while_connected(conn)
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("relay leadership: connection failed (%r); reconnecting", exc)
            finally:
                self.is_leader = False
                if not conn.is_closed():
                    await conn.close()  # releases the lock for a stand-by

    async def _lead_while_connected(self, conn: asyncpg.Connection) -> None:
        lost = asyncio.Event()
        conn.add_termination_listener(lambda _conn: lost.set())
        while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", RELAY_LOCK_KEY):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(lost.wait(), self._standby_seconds)
            if lost.is_set():
                return
        await conn.add_listener(OUTBOX_CHANNEL, lambda *_args: self._wake())
        self.is_leader = True
        log.info("this process relays the outbox")
        self._wake()  # rows committed while no one led
        await lost.wait()
        log.warning("relay leadership: connection lost; standing by")
