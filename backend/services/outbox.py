"""Writing domain events to the outbox in the caller's transaction.

The relay publishes them later; because the row commits (or rolls back) together with the
change it describes, a crash between commit and publish loses nothing.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import OutboxEvent
from notifications import Event


def record_event(session: AsyncSession, event: Event) -> OutboxEvent:
    """Add ``event`` to the outbox of ``session``'s transaction."""
    row = OutboxEvent(event_id=event.id, type=event.type.value, payload=event.to_dict())
    session.add(row)
    return row
