"""The durable inbox: what the backend stores and what live subscriptions replay from.

Why protocols: the inbox lives in the backend's database (SQLAlchemy), and this package must not
import the backend. The backend implements :class:`InboxWriter` and :class:`InboxReader`; this
package decides *when* to write (fan-out on delivery) and *how* to read (replay on subscribe).

Cursor contract (what makes resume-by-cursor correct):
    * ``cursor`` is an integer, strictly increasing per user in the order items become visible
      to readers. A per-user sequence (1, 2, 3, ...) assigned under a unique
      ``(user_id, seq)`` constraint satisfies it; a global autoincrement id does *not* on
      PostgreSQL (an id can commit after a larger one has been read, and a reader that has moved
      past it would never see it).
    * Dense per-user sequences are cheapest: the hub notices a jump (``cursor > last + 1``) and
      fills it with a replay read. Sparse sequences work too, they just cost that extra read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from notifications.events import Event, EventDecodeError


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One notice in one user's inbox.

    Attributes:
        user_id: The recipient.
        cursor: Position in that user's inbox (see the module's cursor contract).
        event: The event the notice is about.
    """

    user_id: str
    cursor: int
    event: Event

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-compatible form (what pub/sub carries between processes)."""
        return {"user_id": self.user_id, "cursor": self.cursor, "event": self.event.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InboxItem:
        """Parse :meth:`to_dict` output.

        Raises:
            EventDecodeError: If the document is malformed.
        """
        try:
            return cls(str(data["user_id"]), int(data["cursor"]), Event.from_dict(data["event"]))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, EventDecodeError):
                raise
            raise EventDecodeError(f"invalid inbox item: {exc!r}") from exc

    def to_json(self) -> str:
        """Serialize compactly."""
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)


class InboxReader(Protocol):
    """Reads a user's inbox in cursor order (the backend implements it over SQL)."""

    async def read_after(self, user_id: str, after: int, limit: int) -> Sequence[InboxItem]:
        """Return up to ``limit`` items of ``user_id`` with ``cursor > after``, ascending."""
        ...


class InboxWriter(Protocol):
    """Stores notices (the backend implements it over SQL)."""

    async def add(self, user_id: str, event: Event) -> tuple[InboxItem, bool]:
        """Store a notice for ``user_id`` about ``event``, idempotently.

        Must be idempotent on ``(user_id, event.id)``: when the notice exists already, return the
        stored item and ``False``. This is the transactional half of deduplication; the
        :class:`~notifications.dedup.Deduplicator` in front of it only saves the database work.

        Returns:
            The stored item and whether it was created by this call.
        """
        ...


__all__ = ["InboxItem", "InboxReader", "InboxWriter"]
