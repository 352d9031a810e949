"""Waking a relay in its own process when outbox rows commit (PostgreSQL LISTEN/NOTIFY).

In the API process the relay is woken directly after each commit (``Runtime.wake_relay``). As
``fieldrep relay`` it would otherwise only poll, so every notice would wait up to a poll
interval. Writers ``NOTIFY`` in the transaction that adds outbox rows (``record_events``);
PostgreSQL delivers it at commit, so a wake-up always finds the rows. The poll stays as the
safety net: a lost listening connection is re-opened with backoff, and until then the relay
polls as before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import asyncpg
from sqlalchemy.engine import make_url

from backend.services.outbox import OUTBOX_CHANNEL
from notifications._backoff import Backoff

log = logging.getLogger(__name__)


def asyncpg_dsn(database_url: str) -> str:
    """The plain ``postgresql://`` form of a SQLAlchemy URL (asyncpg does not take dialects)."""
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_for_outbox(database_url: str, wake: Callable[[], None]) -> None:
    """Call ``wake`` on every outbox NOTIFY until cancelled; reconnect when the link drops."""
    backoff = Backoff(0.2, 10.0)
    while True:
        try:
            conn = await asyncpg.connect(asyncpg_dsn(database_url))
        except (OSError, asyncpg.PostgresError) as exc:
            delay = backoff.next_delay()
            log.warning("outbox listener cannot connect (%r); polling, retry in %.1fs", exc, delay)
            await asyncio.sleep(delay)
            continue
        backoff.reset()
        await _listen_until_lost(conn, wake)
        log.warning("outbox listener lost its connection; reconnecting")


async def _listen_until_lost(conn: asyncpg.Connection, wake: Callable[[], None]) -> None:
    lost = asyncio.Event()
    try:
        conn.add_termination_listener(lambda _conn: lost.set())
        await conn.add_listener(OUTBOX_CHANNEL, lambda *_args: wake())
        wake()  # rows committed while no one listened
        await lost.wait()
    finally:
        if not conn.is_closed():
            await conn.close()
