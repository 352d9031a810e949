"""GPS breadcrumbs from the app, batched and idempotent, so drive time is measured.

A rep is in one place at one instant, so ``(rep, recorded_at)`` is the natural key: a resent
batch finds its points stored and they count as duplicates (the first position is kept). Bad
points (NaN, out of range, in the future) are reported by index and skipped while the good
points of the same batch are stored, so one broken GPS fix never blocks a whole queue.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Breadcrumb
from backend.services.errors import Rejected
from backend.services.positions import coordinate_problem
from backend.services.timeutil import as_utc
from backend.services.visits import CLOCK_SKEW

MAX_BATCH = 2000
"""Points per call; a phone offline for a day at one point per 30 s sends about 1,000."""


@dataclass(frozen=True, slots=True)
class PointIn:
    """One recorded position."""

    recorded_at: datetime
    lat: float
    lon: float
    accuracy_m: float | None = None


@dataclass(frozen=True, slots=True)
class PointProblem:
    """A point that was not stored, and why."""

    index: int
    field: str
    message: str


@dataclass(slots=True)
class BatchResult:
    """What happened to a batch."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[PointProblem] = field(default_factory=list)


def _problem(index: int, point: PointIn, now: datetime) -> PointProblem | None:
    where = f"points[{index}]"
    if point.recorded_at.tzinfo is None:
        return PointProblem(index, f"{where}.recordedAt", "recordedAt needs a UTC offset")
    if as_utc(point.recorded_at) > as_utc(now) + CLOCK_SKEW:
        return PointProblem(index, f"{where}.recordedAt", "recordedAt is in the future")
    problem = coordinate_problem(point.lat, point.lon)
    if problem is not None:
        return PointProblem(index, f"{where}.{problem[0]}", problem[1])
    if point.accuracy_m is not None and not (
        math.isfinite(point.accuracy_m) and point.accuracy_m >= 0
    ):
        return PointProblem(index, f"{where}.accuracyM", "accuracyM must be finite and >= 0")
    return None


async def record_breadcrumbs(
    session: AsyncSession, *, rep_id: int, points: Sequence[PointIn], now: datetime
) -> BatchResult:
    """Store the valid new points of a batch; the caller commits.

    Raises:
        Rejected: BAD_USER_INPUT when the batch is larger than :data:`MAX_BATCH`.
    """
    if len(points) > MAX_BATCH:
        raise Rejected.bad_input("points", f"at most {MAX_BATCH} points per call")
    result = BatchResult()
    fresh: dict[datetime, PointIn] = {}
    for index, point in enumerate(points):
        problem = _problem(index, point, now)
        if problem is not None:
            result.rejected.append(problem)
            continue
        moment = as_utc(point.recorded_at)
        if moment in fresh:
            result.duplicates += 1
            continue
        fresh[moment] = point
    if not fresh:
        return result
    stored = {
        as_utc(t)
        for t in await session.scalars(
            select(Breadcrumb.recorded_at).where(
                Breadcrumb.rep_id == rep_id,
                Breadcrumb.recorded_at.between(min(fresh), max(fresh)),
            )
        )
    }
    rows = [
        {
            "rep_id": rep_id,
            "recorded_at": moment,
            "lat": point.lat,
            "lon": point.lon,
            "accuracy_m": point.accuracy_m,
        }
        for moment, point in fresh.items()
        if moment not in stored
    ]
    result.duplicates += len(fresh) - len(rows)
    if rows:
        dialect = session.get_bind().dialect.name
        statement = (
            pg_insert(Breadcrumb).on_conflict_do_nothing(index_elements=["rep_id", "recorded_at"])
            if dialect == "postgresql"
            else sqlite_insert(Breadcrumb).on_conflict_do_nothing(
                index_elements=["rep_id", "recorded_at"]
            )
            if dialect == "sqlite"
            else insert(Breadcrumb)
        )
        await session.execute(statement, rows)
    result.accepted = len(rows)
    return result


__all__ = ["MAX_BATCH", "BatchResult", "PointIn", "PointProblem", "record_breadcrumbs"]
