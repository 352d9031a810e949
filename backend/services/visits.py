"""Check-in and check-out, safe to resend from an offline phone.

Each message carries a client-generated id. Sending the same id with the same content again
returns the visit stored the first time (the phone's queue may replay after a lost response);
the same id with different content is refused and the first version kept, because silently
overwriting would lose what the rep recorded first. A check-in far from the account is stored
and flagged, never refused: the rep was somewhere, and the manager decides.

Times may be up to :data:`CLOCK_SKEW` in the future (phone clocks drift); anything later is
refused. Check-ins move ``Account.last_visit_at`` forward in the same transaction, so the
cadence and the priority change at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Account, Visit
from backend.db.spatial import haversine_m
from backend.services.errors import Rejected
from backend.services.positions import coordinate_problem
from backend.services.timeutil import as_utc

CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a phone's timestamp may be (clock drift) before it is refused."""
FAR_THRESHOLD_M = 250.0
"""A check-in farther than this from the account's position is flagged for the manager."""
MAX_NOTES = 4000
MAX_OUTCOME = 50
CLIENT_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


@dataclass(frozen=True, slots=True)
class CheckIn:
    """A check-in as the phone sent it."""

    client_id: str
    account_id: int
    at: datetime
    lat: float
    lon: float
    notes: str | None = None
    outcome: str | None = None


@dataclass(frozen=True, slots=True)
class CheckOut:
    """A check-out as the phone sent it; ``visit_client_id`` is the check-in's client id."""

    client_id: str
    visit_client_id: str
    at: datetime
    lat: float | None = None
    lon: float | None = None
    notes: str | None = None
    outcome: str | None = None


def _check_client_id(value: str, field: str) -> None:
    if not CLIENT_ID.match(value):
        raise Rejected.bad_input(
            field, f"{field} must be 8-64 characters of letters, digits, '.', '_', ':' or '-'"
        )


def _check_time(at: datetime, now: datetime) -> datetime:
    if at.tzinfo is None:
        raise Rejected.bad_input("at", "at needs a UTC offset, e.g. 2025-03-01T09:30:00+01:00")
    at = as_utc(at)
    if at > as_utc(now) + CLOCK_SKEW:
        raise Rejected.bad_input(
            "at",
            f"at {at.isoformat()} is in the future (more than "
            f"{int(CLOCK_SKEW.total_seconds() // 60)} minutes of clock skew)",
        )
    return at


def _check_text(notes: str | None, outcome: str | None) -> None:
    if notes is not None and len(notes) > MAX_NOTES:
        raise Rejected.bad_input("notes", f"notes are limited to {MAX_NOTES} characters")
    if outcome is not None and not 0 < len(outcome) <= MAX_OUTCOME:
        raise Rejected.bad_input("outcome", f"outcome must be 1-{MAX_OUTCOME} characters")


def _check_position(lat: float | None, lon: float | None, *, required: bool) -> None:
    if lat is None and lon is None and not required:
        return
    if lat is None or lon is None:
        raise Rejected.bad_input("position", "position needs both lat and lon")
    problem = coordinate_problem(lat, lon)
    if problem is not None:
        raise Rejected.bad_input(f"position.{problem[0]}", problem[1])


def _same_check_in(visit: Visit, cmd: CheckIn, at: datetime) -> bool:
    return (
        visit.account_id == cmd.account_id
        and as_utc(visit.check_in_at) == at
        and visit.lat == cmd.lat
        and visit.lon == cmd.lon
        and visit.notes == cmd.notes
        and (cmd.outcome is None or visit.outcome == cmd.outcome)
    )


def _same_check_out(visit: Visit, cmd: CheckOut, at: datetime) -> bool:
    return (
        visit.client_id == cmd.visit_client_id
        and visit.check_out_at is not None
        and as_utc(visit.check_out_at) == at
        and visit.check_out_lat == cmd.lat
        and visit.check_out_lon == cmd.lon
        and visit.check_out_notes == cmd.notes
        and (cmd.outcome is None or visit.outcome == cmd.outcome)
    )


async def _visit_by(session: AsyncSession, clause: ColumnElement[bool]) -> Visit | None:
    visit: Visit | None = await session.scalar(select(Visit).where(clause))
    return visit


async def check_in(
    session: AsyncSession,
    *,
    rep_id: int,
    visible: ColumnElement[bool],
    cmd: CheckIn,
    now: datetime,
) -> Visit:
    """Record a check-in (or return the one already recorded under the same client id).

    Args:
        session: Session; the caller commits.
        rep_id: The checking-in rep.
        visible: The rep's account visibility clause (policy): other accounts are NOT_FOUND.
        cmd: The message.
        now: Server time, for the future-time check.

    Raises:
        Rejected: BAD_USER_INPUT, NOT_FOUND or CONFLICT, with the field at fault.
    """
    _check_client_id(cmd.client_id, "clientId")
    at = _check_time(cmd.at, now)
    _check_position(cmd.lat, cmd.lon, required=True)
    _check_text(cmd.notes, cmd.outcome)

    existing = await _visit_by(session, Visit.client_id == cmd.client_id)
    if existing is not None:
        return _replayed_check_in(existing, cmd, at, rep_id)

    account = await session.scalar(select(Account).where(Account.id == cmd.account_id, visible))
    if account is None:
        raise Rejected.not_found("accountId", f"Account {cmd.account_id} not found")
    distance = haversine_m(cmd.lat, cmd.lon, account.lat, account.lon)
    visit = Visit(
        client_id=cmd.client_id,
        account_id=account.id,
        rep_id=rep_id,
        check_in_at=at,
        lat=cmd.lat,
        lon=cmd.lon,
        distance_from_account_m=round(distance, 1),
        flagged_far=distance > FAR_THRESHOLD_M,
        notes=cmd.notes,
        outcome=cmd.outcome,
    )
    try:
        async with session.begin_nested():
            session.add(visit)
    except IntegrityError:
        # Another request stored the same client id between our read and our insert.
        existing = await _visit_by(session, Visit.client_id == cmd.client_id)
        if existing is None:
            raise
        return _replayed_check_in(existing, cmd, at, rep_id)
    await session.execute(
        update(Account)
        .where(
            Account.id == account.id,
            or_(Account.last_visit_at.is_(None), Account.last_visit_at < at),
        )
        .values(last_visit_at=at)
        .execution_options(synchronize_session=False)
    )
    return visit


def _replayed_check_in(existing: Visit, cmd: CheckIn, at: datetime, rep_id: int) -> Visit:
    if existing.rep_id == rep_id and _same_check_in(existing, cmd, at):
        return existing
    raise Rejected.conflict(
        "clientId",
        f"clientId {cmd.client_id} was already used for a different check-in; "
        "the first one is kept",
    )


async def check_out(session: AsyncSession, *, rep_id: int, cmd: CheckOut, now: datetime) -> Visit:
    """Close the rep's visit opened under ``cmd.visit_client_id``; idempotent like check-in.

    Raises:
        Rejected: BAD_USER_INPUT, NOT_FOUND (not the rep's visit) or CONFLICT.
    """
    _check_client_id(cmd.client_id, "clientId")
    _check_client_id(cmd.visit_client_id, "visitClientId")
    at = _check_time(cmd.at, now)
    _check_position(cmd.lat, cmd.lon, required=False)
    _check_text(cmd.notes, cmd.outcome)

    existing = await _visit_by(session, Visit.check_out_client_id == cmd.client_id)
    if existing is not None:
        return _replayed_check_out(existing, cmd, at, rep_id)
    visit = await _visit_by(
        session, (Visit.client_id == cmd.visit_client_id) & (Visit.rep_id == rep_id)
    )
    if visit is None:
        raise Rejected.not_found("visitClientId", f"Visit {cmd.visit_client_id} not found")
    if visit.check_out_client_id == cmd.client_id:  # our resend committed since the read above
        return _replayed_check_out(visit, cmd, at, rep_id)
    if visit.check_out_client_id is not None:
        raise _already_checked_out(cmd)
    if at < as_utc(visit.check_in_at):
        raise Rejected.bad_input("at", "check-out time is before the check-in time")
    values: dict[str, object] = {
        "check_out_client_id": cmd.client_id,
        "check_out_at": at,
        "check_out_lat": cmd.lat,
        "check_out_lon": cmd.lon,
        "check_out_notes": cmd.notes,
    }
    if cmd.outcome is not None:
        values["outcome"] = cmd.outcome
    try:
        async with session.begin_nested():
            # Conditional: of concurrent check-outs of one visit only the first matches the row
            # (PostgreSQL re-checks the condition after waiting for the first one's row lock;
            # SQLite writers take turns), so "the first check-out is kept" holds under load.
            claimed = await session.execute(
                update(Visit)
                .where(Visit.id == visit.id, Visit.check_out_client_id.is_(None))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
    except IntegrityError:
        # The same client id closed another visit between our read and our write.
        existing = await _visit_by(session, Visit.check_out_client_id == cmd.client_id)
        if existing is None:
            raise
        return _replayed_check_out(existing, cmd, at, rep_id)
    await session.refresh(visit)
    if int(getattr(claimed, "rowcount", 0)) != 1:
        if visit.check_out_client_id == cmd.client_id:  # our own resend won the race
            return _replayed_check_out(visit, cmd, at, rep_id)
        raise _already_checked_out(cmd)
    return visit


def _already_checked_out(cmd: CheckOut) -> Rejected:
    return Rejected.conflict(
        "visitClientId",
        f"visit {cmd.visit_client_id} was already checked out by another message; "
        "the first check-out is kept",
    )


def _replayed_check_out(existing: Visit, cmd: CheckOut, at: datetime, rep_id: int) -> Visit:
    if existing.rep_id == rep_id and _same_check_out(existing, cmd, at):
        return existing
    raise Rejected.conflict(
        "clientId",
        f"clientId {cmd.client_id} was already used for a different check-out; "
        "the first one is kept",
    )


__all__ = ["CLOCK_SKEW", "FAR_THRESHOLD_M", "CheckIn", "CheckOut", "check_in", "check_out"]
