"""Domain events that users must hear about, with stable ids and a JSON wire form.

Why this shape: the backend writes an :class:`Event` to the outbox in the same transaction as
the change, the relay moves it to the bus, and every consumer deduplicates on ``Event.id``. The
id is therefore generated once, when the event is recorded, and travels unchanged through every
retry. The ``type`` strings carry a version suffix (``.v1``) so that a payload change ships as a
new type instead of breaking consumers that are still running the old code during a rollout.

Example:
    >>> from datetime import date
    >>> change = TerritoryChanged(
    ...     rep_id="rep-7",
    ...     territory_id="t-north",
    ...     effective_date=date(2025, 3, 3),
    ...     gained=(AccountHandover("acc-1", "Bakery Nord", note="Prefers mornings"),),
    ... )
    >>> event = change.to_event()
    >>> event_from_json(event.to_json()) == event
    True
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar, Self

from notifications import _json

JsonObject = dict[str, Any]


class EventType(StrEnum):
    """Stable, versioned identifiers of event types (stored in the outbox, sent on the wire)."""

    TERRITORY_CHANGED = "territory.changed.v1"
    DAY_PLAN_UPDATED = "day_plan.updated.v1"
    ACCOUNT_REASSIGNED = "account.reassigned.v1"


class EventDecodeError(ValueError):
    """Raised when a JSON document is not a valid event (consumers dead-letter it)."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> str:
    """Return a fresh event id (uuid4 text), the key every consumer deduplicates on."""
    return str(uuid.uuid4())


@dataclass(frozen=True, slots=True)
class Event:
    """The envelope stored in the outbox and carried by the bus.

    Attributes:
        type: What happened; selects the payload schema.
        recipients: User ids to notify. A tuple so that an event cannot change after it has been
            written to the outbox.
        payload: JSON-compatible details; :meth:`details` parses them into the typed class.
        id: uuid4 text, generated once; the deduplication key.
        occurred_at: When the change happened (timezone-aware, normalized to UTC).
    """

    type: EventType
    recipients: tuple[str, ...]
    payload: Mapping[str, Any]
    id: str = field(default_factory=new_event_id)
    occurred_at: datetime = field(default_factory=_utcnow)

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("Event.occurred_at must be timezone-aware")
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))
        object.__setattr__(self, "recipients", tuple(self.recipients))
        object.__setattr__(self, "type", EventType(self.type))

    def to_dict(self) -> JsonObject:
        """Return the JSON-compatible form (the outbox column and the bus message body)."""
        return {
            "id": self.id,
            "type": self.type.value,
            "recipients": list(self.recipients),
            "payload": dict(self.payload),
            "occurred_at": self.occurred_at.isoformat(),
        }

    def to_json(self) -> str:
        """Serialize compactly with sorted keys, so equal events give equal bytes."""
        return _json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Parse the form produced by :meth:`to_dict`.

        Raises:
            EventDecodeError: On a missing field, an unknown type or a naive timestamp.
        """
        try:
            occurred_at = datetime.fromisoformat(str(data["occurred_at"]))
            recipients = data["recipients"]
            payload = data["payload"]
            if not isinstance(recipients, list) or not all(isinstance(r, str) for r in recipients):
                raise EventDecodeError("recipients must be a list of strings")
            if not isinstance(payload, dict):
                raise EventDecodeError("payload must be an object")
            return cls(
                id=str(data["id"]),
                type=EventType(data["type"]),
                recipients=tuple(recipients),
                payload=payload,
                occurred_at=occurred_at,
            )
        except EventDecodeError:
            raise
        except (KeyError, ValueError, TypeError) as exc:
            raise EventDecodeError(f"invalid event: {exc!r}") from exc

    def details(self) -> EventDetails:
        """Parse :attr:`payload` into the typed class for :attr:`type`."""
        return _DETAIL_CLASSES[self.type].from_payload(self.payload)


def event_from_json(text: str | bytes) -> Event:
    """Parse an event from its JSON text (inverse of :meth:`Event.to_json`).

    Raises:
        EventDecodeError: If the text is not JSON or not a valid event.
    """
    try:
        data = _json.loads(text)
    except _json.JSONDecodeError as exc:
        raise EventDecodeError(f"not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EventDecodeError("event JSON must be an object")
    return Event.from_dict(data)


@dataclass(frozen=True, slots=True)
class Summary:
    """A short human text for a notice: what Web Push shows and the inbox lists."""

    title: str
    body: str


@dataclass(frozen=True, slots=True)
class AccountHandover:
    """One account that moves, with the note the previous owner left for the next one."""

    account_id: str
    account_name: str
    note: str = ""

    def to_payload(self) -> JsonObject:
        """Return the JSON form."""
        return {"account_id": self.account_id, "account_name": self.account_name, "note": self.note}

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Self:
        """Parse the JSON form."""
        return cls(str(data["account_id"]), str(data["account_name"]), str(data.get("note", "")))


def _handovers(items: Iterable[Mapping[str, Any]]) -> tuple[AccountHandover, ...]:
    return tuple(AccountHandover.from_payload(i) for i in items)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _decode(cls_name: str, exc: Exception) -> EventDecodeError:
    return EventDecodeError(f"invalid {cls_name} payload: {exc!r}")


@dataclass(frozen=True, slots=True)
class TerritoryChanged:
    """A rep's territory changes on ``effective_date``: accounts gained and lost.

    The lists carry the handover notes so the rep can act on the notice without another query.
    """

    TYPE: ClassVar[EventType] = EventType.TERRITORY_CHANGED

    rep_id: str
    territory_id: str
    effective_date: date
    gained: tuple[AccountHandover, ...] = ()
    lost: tuple[AccountHandover, ...] = ()
    alignment_version_id: str | None = None

    def to_payload(self) -> JsonObject:
        """Return the JSON form stored in :attr:`Event.payload`."""
        return {
            "rep_id": self.rep_id,
            "territory_id": self.territory_id,
            "effective_date": self.effective_date.isoformat(),
            "gained": [a.to_payload() for a in self.gained],
            "lost": [a.to_payload() for a in self.lost],
            "alignment_version_id": self.alignment_version_id,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Self:
        """Parse :attr:`Event.payload`.

        Raises:
            EventDecodeError: If a field is missing or malformed.
        """
        try:
            version = data.get("alignment_version_id")
            return cls(
                rep_id=str(data["rep_id"]),
                territory_id=str(data["territory_id"]),
                effective_date=date.fromisoformat(str(data["effective_date"])),
                gained=_handovers(data.get("gained", [])),
                lost=_handovers(data.get("lost", [])),
                alignment_version_id=None if version is None else str(version),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise _decode(cls.__name__, exc) from exc

    def to_event(
        self,
        *,
        recipients: Sequence[str] | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Event:
        """Wrap in an :class:`Event`; recipients default to the rep."""
        return _wrap(
            self.TYPE, self.to_payload(), recipients or [self.rep_id], event_id, occurred_at
        )

    def summary(self) -> Summary:
        """Return the notice text."""
        return Summary(
            title="Your territory changes",
            body=(
                f"From {self.effective_date.isoformat()}: {_plural(len(self.gained), 'account')} "
                f"gained, {_plural(len(self.lost), 'account')} lost."
            ),
        )


@dataclass(frozen=True, slots=True)
class DayPlanUpdated:
    """A rep's plan for ``plan_date`` changed (re-optimized, a visit added or cancelled)."""

    TYPE: ClassVar[EventType] = EventType.DAY_PLAN_UPDATED

    rep_id: str
    plan_date: date
    stop_count: int
    reason: str = ""
    plan_id: str | None = None

    def to_payload(self) -> JsonObject:
        """Return the JSON form stored in :attr:`Event.payload`."""
        return {
            "rep_id": self.rep_id,
            "plan_date": self.plan_date.isoformat(),
            "stop_count": self.stop_count,
            "reason": self.reason,
            "plan_id": self.plan_id,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Self:
        """Parse :attr:`Event.payload`.

        Raises:
            EventDecodeError: If a field is missing or malformed.
        """
        try:
            plan_id = data.get("plan_id")
            return cls(
                rep_id=str(data["rep_id"]),
                plan_date=date.fromisoformat(str(data["plan_date"])),
                stop_count=int(data["stop_count"]),
                reason=str(data.get("reason", "")),
                plan_id=None if plan_id is None else str(plan_id),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise _decode(cls.__name__, exc) from exc

    def to_event(
        self,
        *,
        recipients: Sequence[str] | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Event:
        """Wrap in an :class:`Event`; recipients default to the rep."""
        return _wrap(
            self.TYPE, self.to_payload(), recipients or [self.rep_id], event_id, occurred_at
        )

    def summary(self) -> Summary:
        """Return the notice text."""
        body = f"{self.plan_date.isoformat()}: {_plural(self.stop_count, 'stop')}."
        if self.reason:
            body = f"{body} {self.reason}"
        return Summary(title="Your day plan was updated", body=body)


@dataclass(frozen=True, slots=True)
class AccountReassigned:
    """One account moves from one rep to another (outside a full realignment)."""

    TYPE: ClassVar[EventType] = EventType.ACCOUNT_REASSIGNED

    account_id: str
    account_name: str
    from_rep_id: str | None
    to_rep_id: str
    effective_date: date
    handover_note: str = ""

    def to_payload(self) -> JsonObject:
        """Return the JSON form stored in :attr:`Event.payload`."""
        return {
            "account_id": self.account_id,
            "account_name": self.account_name,
            "from_rep_id": self.from_rep_id,
            "to_rep_id": self.to_rep_id,
            "effective_date": self.effective_date.isoformat(),
            "handover_note": self.handover_note,
        }

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Self:
        """Parse :attr:`Event.payload`.

        Raises:
            EventDecodeError: If a field is missing or malformed.
        """
        try:
            from_rep = data.get("from_rep_id")
            return cls(
                account_id=str(data["account_id"]),
                account_name=str(data["account_name"]),
                from_rep_id=None if from_rep is None else str(from_rep),
                to_rep_id=str(data["to_rep_id"]),
                effective_date=date.fromisoformat(str(data["effective_date"])),
                handover_note=str(data.get("handover_note", "")),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise _decode(cls.__name__, exc) from exc

    def to_event(
        self,
        *,
        recipients: Sequence[str] | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> Event:
        """Wrap in an :class:`Event`; recipients default to both reps."""
        default = [r for r in (self.from_rep_id, self.to_rep_id) if r is not None]
        return _wrap(self.TYPE, self.to_payload(), recipients or default, event_id, occurred_at)

    def summary(self) -> Summary:
        """Return the notice text."""
        return Summary(
            title=f"{self.account_name} was reassigned",
            body=f"Effective {self.effective_date.isoformat()}.",
        )


EventDetails = TerritoryChanged | DayPlanUpdated | AccountReassigned

_DETAIL_CLASSES: dict[
    EventType, type[TerritoryChanged] | type[DayPlanUpdated] | type[AccountReassigned]
] = {
    EventType.TERRITORY_CHANGED: TerritoryChanged,
    EventType.DAY_PLAN_UPDATED: DayPlanUpdated,
    EventType.ACCOUNT_REASSIGNED: AccountReassigned,
}


def _wrap(
    event_type: EventType,
    payload: JsonObject,
    recipients: Sequence[str],
    event_id: str | None,
    occurred_at: datetime | None,
) -> Event:
    return Event(
        type=event_type,
        recipients=tuple(dict.fromkeys(recipients)),
        payload=payload,
        id=event_id or new_event_id(),
        occurred_at=occurred_at or _utcnow(),
    )


__all__ = [
    "AccountHandover",
    "AccountReassigned",
    "DayPlanUpdated",
    "Event",
    "EventDecodeError",
    "EventDetails",
    "EventType",
    "Summary",
    "TerritoryChanged",
    "event_from_json",
    "new_event_id",
]
