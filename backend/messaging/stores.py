"""SQL implementations of the storage protocols of :mod:`notifications`.

The inbox cursor is the notification's per-user ``seq`` (1, 2, 3, ... for each user): dense, so
the subscription hub can tell a missed notice from a quiet inbox, and unique with the user, so
concurrent writers serialize on it instead of committing numbers out of order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Integer, bindparam, delete, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.db.models import Notification, OutboxEvent, PushSubscriptionRecord
from notifications import Event, InboxItem, OutboxRow, PushSubscription


def _title_body(event: Event) -> tuple[str, str]:
    try:
        summary = event.details().summary()  # type: ignore[union-attr]
    except Exception:  # an unknown payload still reaches the inbox, with a plain text
        return (event.type.value, "")
    return summary.title, summary.body


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
                select(OutboxEvent)
                .where(OutboxEvent.published_at.is_(None))
                .order_by(OutboxEvent.id)
                .limit(limit)
            )
            rows = (await session.execute(query)).scalars().all()
            return [OutboxRow(row.id, Event.from_dict(row.payload)) for row in rows]

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
            insert = _dialect_insert(session)
            statement = _batch_insert(insert)
            for _attempt in range(MAX_SEQ_RETRIES):
                if not pending:
                    break
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
                inserted = {
                    (uid, event_id): seq
                    for uid, event_id, seq in (await session.execute(statement, params)).tuples()
                }
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

    async def subscriptions_for(self, user_id: str) -> Sequence[PushSubscription]:
        async with self._sessionmaker() as session:
            rows = (
                await session.execute(
                    select(PushSubscriptionRecord).where(
                        PushSubscriptionRecord.user_id == int(user_id)
                    )
                )
            ).scalars()
            return [PushSubscription(r.endpoint, r.p256dh, r.auth, str(r.user_id)) for r in rows]

    async def remove(self, subscription: PushSubscription) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(
                delete(PushSubscriptionRecord).where(
                    PushSubscriptionRecord.endpoint == subscription.endpoint
                )
            )
