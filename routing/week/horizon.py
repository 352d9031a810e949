"""The horizon: which dates are working days, and each day's shift, breaks and end points.

Absences shape the days here, once, so the rest of the planner sees only :class:`WorkDay` s:
a whole-day absence makes a day off, a part day touching the shift's start or end shortens the
shift, and one in the middle becomes a fixed break. Lunch is kept only where it fits the shift.
"""

from __future__ import annotations

import datetime as dt

from routing.week.model import MAX_HORIZON_DAYS, DayEnds, WeekPlanError, WeekProblem, WorkDay

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def seconds(value: dt.time) -> int:
    """Seconds since midnight of a wall-clock time."""
    return value.hour * 3600 + value.minute * 60 + value.second


def working_dates(problem: WeekProblem) -> list[dt.date]:
    """The horizon's dates: ``problem.days`` working days from ``problem.start``.

    Raises:
        WeekPlanError: ``days`` outside 1..20, or a rep without working weekdays.
    """
    if not 1 <= problem.days <= MAX_HORIZON_DAYS:
        raise WeekPlanError(
            f"the horizon must be 1 to {MAX_HORIZON_DAYS} working days, got {problem.days}",
            field="days",
        )
    weekdays = set(problem.rep.working_weekdays)
    if not weekdays <= set(range(7)) or not weekdays:
        raise WeekPlanError(
            "working weekdays must be a non-empty subset of 0 (Monday) .. 6 (Sunday)",
            field="rep.working_weekdays",
        )
    out: list[dt.date] = []
    day = problem.start
    while len(out) < problem.days:
        if day.weekday() in weekdays:
            out.append(day)
        day += dt.timedelta(days=1)
    return out


def work_days(problem: WeekProblem) -> list[WorkDay]:
    """One :class:`WorkDay` per horizon date, absences and day ends applied.

    Raises:
        WeekPlanError: Bad shift or lunch, an absence outside the horizon or malformed, or
            absences covering every day of the horizon.
    """
    rep = problem.rep
    shift_start, shift_end = seconds(rep.shift_start), seconds(rep.shift_end)
    if shift_end <= shift_start:
        raise WeekPlanError("the shift ends before it starts", field="rep.shift_end")
    if rep.lunch_minutes < 0 or seconds(rep.lunch_latest) < seconds(rep.lunch_earliest):
        raise WeekPlanError("lunch must have a length >= 0 and a window", field="rep.lunch")
    dates = working_dates(problem)
    ends = {e.date: e for e in problem.day_ends}
    absences: dict[dt.date, list[tuple[int, int, str]]] = {}
    for i, a in enumerate(problem.absences):
        if a.date not in dates:
            raise WeekPlanError(
                f"absence on {a.date} is not a working day of the horizon",
                field=f"absences[{i}].date",
            )
        if a.whole_day:
            lo, hi = 0, 86_400
        else:
            lo = seconds(a.start) if a.start is not None else 0
            hi = seconds(a.end) if a.end is not None else 86_400
            if hi <= lo:
                raise WeekPlanError(
                    f"absence on {a.date} ends before it starts", field=f"absences[{i}].end"
                )
        absences.setdefault(a.date, []).append((lo, hi, a.reason))
    days = [_day(problem, d, shift_start, shift_end, absences.get(d, []), ends) for d in dates]
    if all(d.off for d in days):
        raise WeekPlanError(
            "absences cover every day of the horizon: nothing can be planned",
            field="absences",
        )
    return days


def _day(
    problem: WeekProblem,
    date: dt.date,
    shift_start: int,
    shift_end: int,
    away: list[tuple[int, int, str]],
    ends: dict[dt.date, DayEnds],
) -> WorkDay:
    rep = problem.rep
    end_points = ends.get(date)
    start_point = (end_points.start if end_points else None) or rep.home
    end_point = (end_points.end if end_points else None) or rep.home
    fixed: list[tuple[int, int, int]] = []
    notes: list[str] = []
    for lo, hi, reason in sorted(away):
        notes.append(reason)
        if lo <= shift_start:
            shift_start = max(shift_start, hi)
        elif hi >= shift_end:
            shift_end = min(shift_end, lo)
        else:
            fixed.append((lo, lo, hi - lo))
    note = ", ".join(notes) or None
    if shift_end <= shift_start:
        return WorkDay(date, shift_start, shift_start, start_point, end_point, off=True, note=note)
    breaks = list(fixed)
    lunch = rep.lunch_minutes * 60
    lo, hi = seconds(rep.lunch_earliest), seconds(rep.lunch_latest)
    if lunch and lo < shift_end and hi + lunch > shift_start:
        breaks.append((max(lo, shift_start), min(hi, shift_end - lunch), lunch))
    return WorkDay(
        date,
        shift_start,
        shift_end,
        start_point,
        end_point,
        breaks=tuple(sorted(b for b in breaks if b[1] >= b[0])),
        note=note,
    )


__all__ = ["WEEKDAY_NAMES", "seconds", "work_days", "working_dates"]
