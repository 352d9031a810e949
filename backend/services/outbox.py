"""Writing domain events to the outbox in the caller's transaction.

The relay publishes them later; because the rows commit (or roll back) together with the change
they describe, a crash between commit and publish loses nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import OutboxEvent
from notifications import Event


async def record_events(session: AsyncSession, events: Sequence[Event]) -> None:
    """Add ``events`` to the outbox of ``session``'s transaction, in order.

    One Core ``INSERT`` run as executemany rather than ORM objects: a realignment writes an
    event per rep, and building a thousand ORM instances cost more than the insert itself,
    all of it inside the manager's commit request.
    """
    if not events:
        return
    await session.execute(
        insert(OutboxEvent),
        [
            {"event_id": e.id, "type": e.type.value, "payload": e.to_dict(), "attempts": 0}
            for e in events
        ],
    )


async def record_event(session: AsyncSession, event: Event) -> None:
    """Add one event to the outbox of ``session``'s transaction."""
    await record_events(session, [event])
