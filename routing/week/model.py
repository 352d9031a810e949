"""Plain data in and out of the week planner.

A :class:`WeekProblem` (one rep, the accounts of their book, appointments and absences, a
horizon of working days) goes in; a :class:`WeekPlan` (per day the ordered stops with times,
and every due visit that could not be planned with its reason) comes out. Everything is a
frozen dataclass of built-in types and ``datetime`` values, so a service can build a problem
from the database, a worker can plan it, and :mod:`routing.week.codec` can store the plan as a
JSON document the API and the phone read.

Times of day inside a plan are integer seconds since the day's local midnight (as in
:mod:`routing.vrp`); dates are local dates.

Example:
    >>> import datetime as dt
    >>> rep = Rep("ann", Point(47.14, 9.52))
    >>> acme = Account("acme", 47.16, 9.51, visit_min=30, cadence_days=14,
    ...                last_visit=dt.date(2026, 11, 20), priority=60)
    >>> problem = WeekProblem(rep, (acme,), start=dt.date(2026, 12, 7))
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

MAX_HORIZON_DAYS = 20
"""Longest horizon (working days): a month of visits is what a rep plans ahead."""

DEFAULT_SPACING_SHARE = 0.7
"""A visit may come this share of the cadence after the previous one, not earlier."""

UnscheduledCode = Literal["closed", "full", "no_day", "unreachable", "absent"]
"""Why a due visit waits (stable codes for API clients; :attr:`Unscheduled.reason` is text)."""


class WeekPlanError(ValueError):
    """The week cannot be planned as asked; ``field`` names the input at fault.

    Attributes:
        field: Dotted path of the offending input, e.g. ``"accounts[3].cadence_days"`` or
            ``"appointments[1]"``.
        code: ``"BAD_USER_INPUT"`` for malformed input, ``"CONFLICT"`` for inputs that
            contradict each other (two appointments overlapping), ``"INFEASIBLE"`` when the
            appointments cannot be driven together.
    """

    def __init__(self, message: str, *, field: str, code: str = "BAD_USER_INPUT") -> None:
        super().__init__(message)
        self.field = field
        self.code = code


@dataclass(frozen=True, slots=True)
class Point:
    """A place (WGS84 degrees)."""

    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class Account:
    """An account of the rep's book.

    Attributes:
        id: Caller's identifier (kept as a string in plans).
        lat: Latitude of the visit place.
        lon: Longitude.
        visit_min: Time on site, minutes.
        cadence_days: Visit every this many calendar days (must be positive).
        last_visit: Date of the last visit; ``None`` = never visited (due at once).
        priority: Higher is more important (the backend's 0-100 score); when the horizon is
            full, the lowest-priority visits wait.
        opening_hours: OSM ``opening_hours`` value; ``None`` = unknown, open during the shift.
        label: What people call the account (its name), for reasons; ``None`` uses :attr:`id`.
    """

    id: str
    lat: float
    lon: float
    visit_min: int
    cadence_days: int
    last_visit: dt.date | None = None
    priority: float = 0.0
    opening_hours: str | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Appointment:
    """A fixed-time visit: kept exactly on ``date`` from ``start`` for ``duration_min``.

    It counts as the account's visit of that day for its cadence.
    """

    account_id: str
    date: dt.date
    start: dt.time
    duration_min: int
    id: str | None = None

    @property
    def key(self) -> str:
        """How errors and plans name the appointment."""
        return self.id or f"{self.account_id}@{self.date.isoformat()} {self.start:%H:%M}"


@dataclass(frozen=True, slots=True)
class Absence:
    """A day off (``start`` and ``end`` both ``None``) or a part day away (vacation, training).

    A part day that touches the shift's start or end shortens the shift; one in the middle is
    a fixed break.
    """

    date: dt.date
    start: dt.time | None = None
    end: dt.time | None = None
    reason: str = "absence"

    @property
    def whole_day(self) -> bool:
        """The rep is away all day."""
        return self.start is None and self.end is None


@dataclass(frozen=True, slots=True)
class Rep:
    """The rep whose week is planned: home base, working hours, lunch.

    Attributes:
        id: Caller's identifier.
        home: Where days start and end unless :class:`DayEnds` says otherwise.
        shift_start: Earliest departure.
        shift_end: Latest return.
        lunch_minutes: Lunch length (0 = none).
        lunch_earliest: Lunch starts at this time or later...
        lunch_latest: ...and at this time at the latest.
        working_weekdays: ``date.weekday()`` numbers of working days (Monday = 0).
    """

    id: str
    home: Point
    shift_start: dt.time = dt.time(8, 0)
    shift_end: dt.time = dt.time(17, 0)
    lunch_minutes: int = 30
    lunch_earliest: dt.time = dt.time(11, 30)
    lunch_latest: dt.time = dt.time(14, 0)
    working_weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)


@dataclass(frozen=True, slots=True)
class DayEnds:
    """Where one day starts and ends when it is not the home base (the office, a hotel)."""

    date: dt.date
    start: Point | None = None
    end: Point | None = None


@dataclass(frozen=True, slots=True)
class WeekProblem:
    """One rep's horizon of working days to plan.

    Attributes:
        rep: The rep.
        accounts: The book.
        start: First date of the horizon (counted if it is a working day).
        days: Working days in the horizon (1..:data:`MAX_HORIZON_DAYS`); days off count.
        appointments: Fixed-time visits inside the horizon.
        absences: Days off and part days.
        day_ends: Per-day start/end points other than home.
        spacing_share: A visit comes at least this share of the cadence after the previous
            one (0 < share <= 1).
        timezone: IANA zone for opening hours.
        today: Appointments before this date are "in the past"; ``None`` = ``start``.
    """

    rep: Rep
    accounts: tuple[Account, ...]
    start: dt.date
    days: int = 5
    appointments: tuple[Appointment, ...] = ()
    absences: tuple[Absence, ...] = ()
    day_ends: tuple[DayEnds, ...] = ()
    spacing_share: float = DEFAULT_SPACING_SHARE
    timezone: str = "UTC"
    today: dt.date | None = None


@dataclass(frozen=True, slots=True)
class WorkDay:
    """One day of the horizon as the planner sees it (derived from rep, absences, day ends).

    Attributes:
        date: The date.
        shift_start: Earliest departure (seconds since midnight).
        shift_end: Latest return.
        start: Where the day starts.
        end: Where it ends.
        breaks: ``(earliest_start, latest_start, duration)`` in seconds: lunch and mid-day
            absences (fixed: earliest = latest).
        off: A day off (no shift at all).
        note: Why the day is off or short, for people.
    """

    date: dt.date
    shift_start: int
    shift_end: int
    start: Point
    end: Point
    breaks: tuple[tuple[int, int, int], ...] = ()
    off: bool = False
    note: str | None = None

    @property
    def capacity_s(self) -> int:
        """Seconds of the shift available for driving and visits (breaks taken off)."""
        if self.off:
            return 0
        return max(0, self.shift_end - self.shift_start - sum(b[2] for b in self.breaks))


@dataclass(frozen=True, slots=True)
class PlannedStop:
    """One visit of a day: arrival, start and end of the visit (departure), seconds."""

    account_id: str
    arrival: int
    start: int
    departure: int
    appointment_id: str | None = None

    @property
    def wait_s(self) -> int:
        """Idle time before the visit (waiting for the opening)."""
        return self.start - self.arrival


@dataclass(frozen=True, slots=True)
class DayPlan:
    """One day of the week plan.

    Attributes:
        date: The date.
        stops: Visits in order.
        drive_s: Driving seconds (start point to end point).
        visit_s: Seconds on site.
        departure: Leaving the start point (seconds since midnight).
        end_arrival: Back at the end point.
        breaks: ``(start, duration)`` of the breaks taken.
        shift_start: The shift of the day.
        shift_end: The shift of the day.
        off: A day off.
        note: Why the day is off or short.
    """

    date: dt.date
    stops: tuple[PlannedStop, ...]
    drive_s: int
    visit_s: int
    departure: int
    end_arrival: int
    breaks: tuple[tuple[int, int], ...] = ()
    shift_start: int = 0
    shift_end: int = 0
    off: bool = False
    note: str | None = None

    @property
    def hours_s(self) -> int:
        """Time out of the start point, from departure to return (0 with no visit)."""
        return self.end_arrival - self.departure if self.stops else 0


@dataclass(frozen=True, slots=True)
class Unscheduled:
    """A due visit that waits, and why (``reason`` is for people, ``reason_code`` for code)."""

    account_id: str
    due: dt.date
    reason_code: UnscheduledCode
    reason: str


@dataclass(frozen=True, slots=True)
class Churn:
    """How much a re-plan changed against the previous plan.

    Attributes:
        moved: Visits that kept their account but changed day.
        added: Visits new in this plan.
        removed: Visits of the previous plan that are gone.
        days_changed: Dates whose stops (set or order) changed.
    """

    moved: int
    added: int
    removed: int
    days_changed: tuple[dt.date, ...]


@dataclass(frozen=True, slots=True)
class WeekPlan:
    """The planner's result.

    Attributes:
        start: First date of the horizon.
        days: One :class:`DayPlan` per working day, in date order.
        unscheduled: Due visits not planned, with reasons.
        notes: Plan-level remarks (unknown opening hours, a baseline's method).
        churn: Set by a re-plan.
    """

    start: dt.date
    days: tuple[DayPlan, ...]
    unscheduled: tuple[Unscheduled, ...] = ()
    notes: tuple[str, ...] = ()
    churn: Churn | None = None
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def drive_s(self) -> int:
        """Driving seconds over the horizon."""
        return sum(d.drive_s for d in self.days)

    @property
    def visits(self) -> int:
        """Visits planned over the horizon."""
        return sum(len(d.stops) for d in self.days)

    def visit_days(self) -> dict[str, list[dt.date]]:
        """Per account, the dates it is visited."""
        out: dict[str, list[dt.date]] = {}
        for day in self.days:
            for stop in day.stops:
                out.setdefault(stop.account_id, []).append(day.date)
        return out


__all__ = [
    "DEFAULT_SPACING_SHARE",
    "MAX_HORIZON_DAYS",
    "Absence",
    "Account",
    "Appointment",
    "Churn",
    "DayEnds",
    "DayPlan",
    "PlannedStop",
    "Point",
    "Rep",
    "Unscheduled",
    "UnscheduledCode",
    "WeekPlan",
    "WeekPlanError",
    "WeekProblem",
    "WorkDay",
]
