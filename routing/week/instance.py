"""The compiled problem the planner searches on: checked input, day shapes, windows, matrix.

:func:`compile_problem` validates the :class:`WeekProblem` once (every refusal is a
:class:`WeekPlanError` naming the field) and turns it into arrays and per-(account, day)
visit windows, so the search modules never look at dates, times or opening-hours strings.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routing.network import InvalidCoordinateError, validate_coordinate
from routing.vrp import windows_from_opening_hours
from routing.week.horizon import seconds, work_days
from routing.week.matrix import WeekMatrix, locations
from routing.week.model import Account, Appointment, WeekPlanError, WeekProblem, WorkDay

Windows = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Instance:
    """A validated week problem in planner form.

    Attributes:
        problem: The input.
        days: The horizon's days.
        seconds: Integer drive seconds between locations.
        metres: Drive metres.
        day_start: Location of each day's start point.
        day_end: Location of each day's end point.
        acc_loc: Location of each account (same order as ``problem.accounts``).
        acc_index: Account id -> index.
        windows: ``windows[a][d]``: the account's open windows on day ``d`` (empty = closed).
        hours_known: Per account, whether its opening hours are known.
        appointments: Per day index, the appointments on that day with their account index.
        unreachable: Account id -> reason it cannot be reached.
    """

    problem: WeekProblem
    days: list[WorkDay]
    seconds: npt.NDArray[np.int64]
    metres: npt.NDArray[np.float64]
    day_start: list[int]
    day_end: list[int]
    acc_loc: list[int]
    acc_index: dict[str, int]
    windows: list[list[Windows]]
    hours_known: list[bool]
    appointments: list[list[tuple[int, Appointment]]]
    unreachable: dict[str, str]

    def day_of(self, date: dt.date) -> int | None:
        """Index of ``date`` in the horizon, or ``None``."""
        for i, d in enumerate(self.days):
            if d.date == date:
                return i
        return None


def validate_accounts(accounts: tuple[Account, ...]) -> dict[str, int]:
    """Check each account's numbers; return id -> index.

    Raises:
        WeekPlanError: A duplicate id, a bad coordinate, a visit length or cadence <= 0.
    """
    index: dict[str, int] = {}
    for i, a in enumerate(accounts):
        where = f"accounts[{i}]"
        if a.id in index:
            raise WeekPlanError(f"account {a.id!r} appears twice", field=f"{where}.id")
        index[a.id] = i
        if a.cadence_days <= 0:
            raise WeekPlanError(
                f"account {a.id!r}: cadence_days must be a positive number of days, "
                f"got {a.cadence_days}",
                field=f"{where}.cadence_days",
            )
        if a.visit_min <= 0:
            raise WeekPlanError(
                f"account {a.id!r}: visit_min must be positive, got {a.visit_min}",
                field=f"{where}.visit_min",
            )
        if not math.isfinite(a.priority):
            raise WeekPlanError(
                f"account {a.id!r}: priority must be a finite number", field=f"{where}.priority"
            )
        try:
            validate_coordinate(a.lat, a.lon, f"account {a.id!r}")
        except InvalidCoordinateError as exc:
            raise WeekPlanError(str(exc), field=f"{where}.lat") from exc
    return index


def _windows(problem: WeekProblem, days: list[WorkDay]) -> tuple[list[list[Windows]], list[bool]]:
    out: list[list[Windows]] = []
    known: list[bool] = []
    cache: dict[tuple[str | None, dt.date], tuple[Windows, bool]] = {}
    for a in problem.accounts:
        row: list[Windows] = []
        all_known = True
        for d in days:
            key = (a.opening_hours, d.date)
            if key not in cache:
                w = windows_from_opening_hours(a.opening_hours, d.date, problem.timezone)
                cache[key] = (tuple((x.start, x.end) for x in w.windows), w.known)
            wins, k = cache[key]
            row.append(wins)
            all_known &= k
        out.append(row)
        known.append(all_known)
    return out, known


def _inside(windows: Windows, start: int, end: int) -> bool:
    return any(lo <= start and end <= hi for lo, hi in windows)


def _appointments(
    problem: WeekProblem,
    days: list[WorkDay],
    index: dict[str, int],
    windows: list[list[Windows]],
    hours_known: list[bool],
) -> list[list[tuple[int, Appointment]]]:
    """Appointments per day, each checked against the horizon, the shift, hours and others.

    Raises:
        WeekPlanError: Unknown account, in the past, outside the horizon, the shift, an
            absence or the opening hours, or overlapping another appointment (naming both).
    """
    today = problem.today or problem.start
    day_index = {d.date: i for i, d in enumerate(days)}
    per_day: list[list[tuple[int, Appointment]]] = [[] for _ in days]
    seen: list[tuple[int, int, int, Appointment]] = []
    for i, ap in enumerate(problem.appointments):
        where = f"appointments[{i}]"
        if ap.account_id not in index:
            raise WeekPlanError(
                f"appointment {ap.key}: account {ap.account_id!r} is not in the book",
                field=f"{where}.account_id",
                code="NOT_FOUND",
            )
        if ap.duration_min <= 0:
            raise WeekPlanError(
                f"appointment {ap.key}: duration must be positive", field=f"{where}.duration_min"
            )
        if ap.date < today:
            raise WeekPlanError(
                f"appointment {ap.key} is in the past ({ap.date} is before {today})",
                field=f"{where}.date",
            )
        d = day_index.get(ap.date)
        if d is None:
            raise WeekPlanError(
                f"appointment {ap.key}: {ap.date} is not a working day of the horizon",
                field=f"{where}.date",
            )
        day = days[d]
        start = seconds(ap.start)
        end = start + ap.duration_min * 60
        if day.off:
            raise WeekPlanError(
                f"appointment {ap.key} falls on a day off ({day.note})",
                field=f"{where}.date",
                code="CONFLICT",
            )
        if start < day.shift_start or end > day.shift_end:
            raise WeekPlanError(
                f"appointment {ap.key} ({_hm(start)}-{_hm(end)}) is outside the shift "
                f"({_hm(day.shift_start)}-{_hm(day.shift_end)})",
                field=f"{where}.start",
                code="CONFLICT",
            )
        for lo, latest, length in day.breaks:
            if lo == latest and start < lo + length and lo < end:
                raise WeekPlanError(
                    f"appointment {ap.key} overlaps the absence {_hm(lo)}-{_hm(lo + length)}",
                    field=f"{where}.start",
                    code="CONFLICT",
                )
        a = index[ap.account_id]
        if hours_known[a] and not _inside(windows[a][d], start, end):
            raise WeekPlanError(
                f"appointment {ap.key} ({_hm(start)}-{_hm(end)}) is outside the opening hours "
                f"of {ap.account_id!r} ({problem.accounts[a].opening_hours})",
                field=f"{where}.start",
                code="CONFLICT",
            )
        for s2, e2, d2, other in seen:
            if d2 == d and start < e2 and s2 < end:
                raise WeekPlanError(
                    f"appointments {other.key} and {ap.key} overlap on {ap.date}",
                    field=f"{where}.start",
                    code="CONFLICT",
                )
            if d2 == d and other.account_id == ap.account_id:
                raise WeekPlanError(
                    f"appointments {other.key} and {ap.key}: two visits of {ap.account_id!r} "
                    "on one day",
                    field=f"{where}.date",
                    code="CONFLICT",
                )
        seen.append((start, end, d, ap))
        per_day[d].append((a, ap))
    for row in per_day:
        row.sort(key=lambda x: seconds(x[1].start))
    return per_day


def _hm(value: int) -> str:
    return f"{value // 3600:02d}:{value % 3600 // 60:02d}"


def compile_problem(problem: WeekProblem, matrix: WeekMatrix) -> Instance:
    """Validate ``problem`` and build the planner's view of it on ``matrix``.

    Raises:
        WeekPlanError: Any input the planner refuses (see the validators above).
    """
    if not 0 < problem.spacing_share <= 1:
        raise WeekPlanError(
            f"spacing_share must be in (0, 1], got {problem.spacing_share}",
            field="spacing_share",
        )
    index = validate_accounts(problem.accounts)
    days = work_days(problem)
    points, ends, offset = locations(problem)
    if matrix.seconds.shape != (len(points), len(points)):
        raise WeekPlanError(
            f"the matrix is {matrix.seconds.shape}, the problem has {len(points)} locations",
            field="matrix",
        )
    windows, known = _windows(problem, days)
    appointments = _appointments(problem, days, index, windows, known)
    secs = np.nan_to_num(np.ceil(matrix.seconds), nan=1e9, posinf=1e9).astype(np.int64)
    return Instance(
        problem=problem,
        days=days,
        seconds=secs,
        metres=np.asarray(matrix.metres, dtype=np.float64),
        day_start=[ends[d.start] for d in days],
        day_end=[ends[d.end] for d in days],
        acc_loc=[offset + i for i in range(len(problem.accounts))],
        acc_index=index,
        windows=windows,
        hours_known=known,
        appointments=appointments,
        unreachable=dict(matrix.unreachable),
    )


__all__ = ["Instance", "Windows", "compile_problem", "validate_accounts"]
