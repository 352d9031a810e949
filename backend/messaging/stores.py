"""SQL implementations of the storage protocols of :mod:`notifications`.

The inbox cursor is the notification's per-user ``seq`` (1, 2, 3, ... for each user): dense, so
the subscription hub can tell a missed notice from a quiet inbox, and unique with the user, so
concurrent writers serialize on it instead of committing numbers out of order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from notifications import Event, InboxItem, OutboxRow, PushSubscription
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.db.models import Notification, OutboxEvent, PushSubscriptionRecord


def _title_body(event: Event) -> tuple[str, str]:
    try:
        summary = event.details().summary()  # type: ignore[union-attr]
    except Exception:  # an unknown payload still reaches the inbox, with a plain text
        return (event.type.value, "")
    return summary.title, summary.body


def _item(row: Notification) -> InboxItem:
    return InboxItem(str(row.user_id), row.seq, Event.from_dict(row.payload))


MAX_SEQ_RETRIES = 20


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
        title, body = _title_body(event)
        uid = int(user_id)
        async with self._sessionmaker() as session:
            for _attempt in range(MAX_SEQ_RETRIES):
                existing = await self._find(session, uid, event.id)
                if existing is not None:
                    return _item(existing), False
                last = await session.scalar(
                    select(func.max(Notification.seq)).where(Notification.user_id == uid)
                )
                row = Notification(
                    user_id=uid, seq=int(last or 0) + 1, event_id=event.id,
                    type=event.type.value, title=title, body=body, payload=event.to_dict(),
                )
                session.add(row)
                try:
                    await session.commit()
                except IntegrityError:  # another writer took this number (or this event)
                    await session.rollback()
                    continue
                return _item(row), True
        msg = f"could not store notice {event.id} for user {user_id}: too much contention"
        raise RuntimeError(msg)

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
