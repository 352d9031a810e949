"""SQL implementations of the storage protocols of :mod:`notifications`.

The inbox cursor is the notification's per-user ``seq`` (1, 2, 3, ... for each user): dense, so
the subscription hub can tell a missed notice from a quiet inbox, and unique with the user, so
concurrent writers serialize on it instead of committing numbers out of order.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Integer, bindparam, delete, func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.db.engine import json_text
from backend.db.models import Notification, OutboxEvent, PushSubscriptionRecord
from notifications import Event, InboxItem, OutboxRow, PushSubscription

_SUMMARIES: OrderedDict[str, tuple[str, str]] = OrderedDict()
_SUMMARY_CACHE_SIZE = 4096


def _title_body(event: Event) -> tuple[str, str]:
    """The notice's title and body, parsed once per event id.

    The inbox writer and every live subscription need them; events are immutable, so the
    recent ones are remembered (an event of a thousand recipients is summarized once).
    """
    cached = _SUMMARIES.get(event.id)
    if cached is not None:
        return cached
    try:
        summary = event.details().summary()  # type: ignore[union-attr]
        result = (summary.title, summary.body)
    except Exception:  # an unknown payload still reaches the inbox, with a plain text
        result = (event.type.value, "")
    _SUMMARIES[event.id] = result
    if len(_SUMMARIES) > _SUMMARY_CACHE_SIZE:
        _SUMMARIES.popitem(last=False)
    return result


def _item(row: Notification) -> InboxItem:
    return InboxItem(str(row.user_id), row.seq, Event.from_dict(row.payload))


MAX_SEQ_RETRIES = 20


def _batch_insert(insert: Any) -> Any:
    """One-row INSERT with the user's next ``seq``, compiled once and run as executemany."""
    uid = bindparam("p_uid", type_=Integer)
    # A second bind with the same value: insertmanyvalues numbers each use of a bind separately.
    next_seq = (
        select(func.coalesce(func.max(Notification.seq), 0) + 1)
        .where(Notification.user_id == bindparam("p_uid_seq", type_=Integer))
        .scalar_subquery()
    )
    return (
        insert(Notification)
        .values(
            user_id=uid,
            seq=next_seq,
            event_id=bindparam("p_eid"),
            type=bindparam("p_type"),
            title=bindparam("p_title"),
            body=bindparam("p_body"),
            payload=bindparam("p_payload", type_=JSON),
        )
        .on_conflict_do_nothing()
        .returning(Notification.user_id, Notification.event_id, Notification.seq)
    )


_UNNEST_INSERT = text(
    """
    WITH input AS (
        SELECT * FROM unnest(
            CAST(:uids AS integer[]), CAST(:eids AS text[]), CAST(:types AS text[]),
            CAST(:titles AS text[]), CAST(:bodies AS text[]), CAST(:payloads AS text[])
        ) WITH ORDINALITY AS t(user_id, event_id, type, title, body, payload, ord)
    ), fresh AS (
        SELECT i.* FROM input i
        WHERE NOT EXISTS (
            SELECT 1 FROM notifications n
            WHERE n.user_id = i.user_id AND n.event_id = i.event_id
        )
    )
    INSERT INTO notifications (user_id, seq, event_id, type, title, body, payload)
    SELECT f.user_id,
           COALESCE((SELECT max(n.seq) FROM notifications n WHERE n.user_id = f.user_id), 0)
             + row_number() OVER (PARTITION BY f.user_id ORDER BY f.ord),
           f.event_id, f.type, f.title, f.body, CAST(f.payload AS json)
    FROM fresh f ORDER BY f.ord
    ON CONFLICT DO NOTHING
    RETURNING user_id, event_id, seq
    """
)


async def _insert_unnest(
    session: AsyncSession, pending: Sequence[tuple[int, Event]]
) -> dict[tuple[int, str], int]:
    """PostgreSQL: the batch as arrays in one statement of constant text.

    Why: the multi-row VALUES form is a new statement for every batch size, parsed and planned
    each time with a subquery per row; this one is prepared once, numbers each user's notices
    with ``row_number()`` (so several notices of one user in a batch do not race each other for
    the same number) and skips what is stored already, so the numbers stay dense. It stored a
    thousand notices in 10 batches in 150-240 ms against 255-310 ms for VALUES, measured in
    turn on the same loaded machine.
    """
    columns: dict[str, list[Any]] = {
        "uids": [],
        "eids": [],
        "types": [],
        "titles": [],
        "bodies": [],
        "payloads": [],
    }
    for uid, event in pending:
        title, body = _title_body(event)
        columns["uids"].append(uid)
        columns["eids"].append(event.id)
        columns["types"].append(event.type.value)
        columns["titles"].append(title)
        columns["bodies"].append(body)
        columns["payloads"].append(json_text(event.to_dict()))
    rows = await session.execute(_UNNEST_INSERT, columns)
    return {(int(uid), str(eid)): int(seq) for uid, eid, seq in rows}


async def _insert_values(
    session: AsyncSession, statement: Any, pending: Sequence[tuple[int, Event]]
) -> dict[tuple[int, str], int]:
    """Other dialects: one multi-row ``INSERT ... VALUES`` (executemany with RETURNING)."""
    params = []
    for uid, event in pending:
        title, body = _title_body(event)
        params.append(
            {
                "p_uid": uid,
                "p_uid_seq": uid,
                "p_eid": event.id,
                "p_type": event.type.value,
                "p_title": title,
                "p_body": body,
                "p_payload": event.to_dict(),
            }
        )
    rows = await session.execute(statement, params)
    return {(int(uid), str(eid)): int(seq) for uid, eid, seq in rows}


def _dialect_insert(session: AsyncSession) -> Any:
    """The dialect's INSERT with ON CONFLICT support (PostgreSQL and SQLite both have it)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


class SqlOutboxStore:
    """The ``outbox`` table as the relay's :class:`~notifications.OutboxStore`."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def fetch_unpublished(self, limit: int) -> Sequence[OutboxRow]:
        async with self._sessionmaker() as session:
            query = (
                select(OutboxEvent.id, OutboxEvent.payload)
                .where(OutboxEvent.published_at.is_(None))
                .order_by(OutboxEvent.id)
                .limit(limit)
            )
            rows = (await session.execute(query)).all()
            return [OutboxRow(row_id, Event.from_dict(payload)) for row_id, payload in rows]

    async def mark_published(self, ids: Sequence[Any]) -> None:
        if not ids:
            return
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                update(OutboxEvent)
                .where(OutboxEvent.id.in_(list(ids)))
                .values(published_at=dt.datetime.now(dt.UTC))
            )


class SqlInbox:
    """The ``notifications`` table as inbox writer (idempotent per user and event) and reader."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def add(self, user_id: str, event: Event) -> tuple[InboxItem, bool]:
        """Store the notice with the user's next ``seq`` in one statement (one round trip).

        ``INSERT ... SELECT max(seq) + 1 ... ON CONFLICT DO NOTHING RETURNING``: nothing returned
        means a conflict, either this event is stored already (answer with it) or a concurrent
        writer took the number (try again with the next one).
        """
        title, body = _title_body(event)
        uid = int(user_id)
        payload = event.to_dict()
        async with self._sessionmaker() as session:
            insert = _dialect_insert(session)
            next_seq = (
                select(func.coalesce(func.max(Notification.seq), 0) + 1)
                .where(Notification.user_id == uid)
                .scalar_subquery()
            )
            for _attempt in range(MAX_SEQ_RETRIES):
                statement = (
                    insert(Notification)
                    .values(
                        user_id=uid,
                        seq=next_seq,
                        event_id=event.id,
                        type=event.type.value,
                        title=title,
                        body=body,
                        payload=payload,
                    )
                    .on_conflict_do_nothing()
                    .returning(Notification.seq)
                )
                seq = (await session.execute(statement)).scalar_one_or_none()
                await session.commit()
                if seq is not None:
                    return InboxItem(user_id, int(seq), event), True
                existing = await self._find(session, uid, event.id)
                if existing is not None:
                    return _item(existing), False
        msg = f"could not store notice {event.id} for user {user_id}: too much contention"
        raise RuntimeError(msg)

    async def add_many(self, pairs: Sequence[tuple[str, Event]]) -> list[tuple[InboxItem, bool]]:
        """Store many notices in one transaction and (mostly) one statement.

        One multi-row ``INSERT ... ON CONFLICT DO NOTHING RETURNING``; rows that did not come
        back are either stored already (answered from the table) or lost a sequence race (a
        user appearing twice in the batch, or a concurrent writer) and are inserted again with
        the next number. One commit, one WAL flush, for the whole batch.
        """
        result: dict[tuple[int, str], tuple[InboxItem, bool]] = {}
        pending = [(int(u), e) for u, e in pairs]
        async with self._sessionmaker() as session:
            postgres = session.get_bind().dialect.name == "postgresql"
            statement = _batch_insert(_dialect_insert(session))
            for _attempt in range(MAX_SEQ_RETRIES):
                if not pending:
                    break
                if postgres:
                    inserted = await _insert_unnest(session, pending)
                else:
                    inserted = await _insert_values(session, statement, pending)
                by_key = {(uid, e.id): e for uid, e in pending}
                for key, seq in inserted.items():
                    result[key] = (InboxItem(str(key[0]), int(seq), by_key[key]), True)
                missing = [(uid, e) for uid, e in pending if (uid, e.id) not in inserted]
                if missing:
                    stored = (
                        await session.execute(
                            select(Notification).where(
                                tuple_(Notification.user_id, Notification.event_id).in_(
                                    [(uid, e.id) for uid, e in missing]
                                )
                            )
                        )
                    ).scalars()
                    for row in stored:
                        if (row.user_id, row.event_id) not in result:
                            result[(row.user_id, row.event_id)] = (_item(row), False)
                pending = [(uid, e) for uid, e in missing if (uid, e.id) not in result]
            if pending:
                msg = f"could not store {len(pending)} notices: too much contention"
                raise RuntimeError(msg)
            await session.commit()
        return [result[(int(u), e.id)] for u, e in pairs]

    @staticmethod
    async def _find(session: AsyncSession, user_id: int, event_id: str) -> Notification | None:
        return await session.scalar(
            select(Notification).where(
                Notification.user_id == user_id, Notification.event_id == event_id
            )
        )

    async def read_after(self, user_id: str, after: int, limit: int) -> Sequence[InboxItem]:
        async with self._sessionmaker() as session:
            rows = (
                await session.execute(
                    select(Notification)
                    .where(Notification.user_id == int(user_id), Notification.seq > after)
                    .order_by(Notification.seq)
                    .limit(limit)
                )
            ).scalars()
            return [_item(r) for r in rows]


class SqlPushSubscriptions:
    """Devices registered for Web Push (``push_subscriptions``)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def subscriptions_for(
        self, user_ids: Sequence[str]
    ) -> Mapping[str, Sequence[PushSubscription]]:
        found: dict[str, list[PushSubscription]] = {}
        if not user_ids:
            return found
        record = PushSubscriptionRecord
        async with self._sessionmaker() as session:
            rows = await session.execute(
                select(record.user_id, record.endpoint, record.p256dh, record.auth).where(
                    record.user_id.in_([int(u) for u in user_ids])
                )
            )
            for user_id, endpoint, p256dh, auth in rows:
                found.setdefault(str(user_id), []).append(
                    PushSubscription(endpoint, p256dh, auth, str(user_id))
                )
        return found

    async def remove(self, subscription: PushSubscription) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                delete(PushSubscriptionRecord).where(
                    PushSubscriptionRecord.endpoint == subscription.endpoint
                )
            )
