"""The SQL inbox: dense per-user cursors, idempotent adds, batch adds, concurrent writers."""

from __future__ import annotations

import asyncio
import datetime as dt

from backend.messaging.stores import SqlInbox
from backend.runtime import Runtime
from notifications import Event, TerritoryChanged
from tests.conftest import World


def _event(n: int, user: int) -> Event:
    change = TerritoryChanged(rep_id=str(n), territory_id="t", effective_date=dt.date(2026, 12, 1))
    return change.to_event(recipients=[str(user)])


async def test_batch_gives_dense_cursors_and_is_idempotent(runtime: Runtime, world: World) -> None:
    inbox = SqlInbox(runtime.sessionmaker)
    u1, u2 = world.users["a1"], world.users["b1"]
    first, second, third = _event(1, u1), _event(2, u1), _event(3, u2)
    stored = await inbox.add_many([(str(u1), first), (str(u1), second), (str(u2), third)])
    assert [(i.user_id, i.cursor, new) for i, new in stored] == [
        (str(u1), 1, True),
        (str(u1), 2, True),
        (str(u2), 1, True),
    ]
    again = await inbox.add_many([(str(u1), second), (str(u2), third), (str(u1), _event(4, u1))])
    assert [(i.cursor, new) for i, new in again] == [(2, False), (1, False), (3, True)]
    single, created = await inbox.add(str(u1), first)
    assert (single.cursor, created) == (1, False)
    assert [i.cursor for i in await inbox.read_after(str(u1), 0, 10)] == [1, 2, 3]
    assert [i.event.id for i in await inbox.read_after(str(u1), 1, 10)] == [
        second.id,
        again[2][0].event.id,
    ]


async def test_concurrent_writers_keep_each_users_cursors_dense(
    runtime: Runtime, world: World
) -> None:
    inbox = SqlInbox(runtime.sessionmaker)
    user = str(world.users["a2"])
    events = [_event(n, int(user)) for n in range(30)]

    async def writer(chunk: list[Event]) -> None:
        for k in range(0, len(chunk), 3):
            await inbox.add_many([(user, e) for e in chunk[k : k + 3]])

    await asyncio.gather(writer(events[:15]), writer(events[15:]), inbox.add(user, events[0]))
    items = await inbox.read_after(user, 0, 100)
    assert [i.cursor for i in items] == list(range(1, 31))
    assert sorted(i.event.id for i in items) == sorted(e.id for e in events)
