"""A fast model of one day's route, for choosing days: schedule, insert, remove.

Deciding which visits go on which day means pricing thousands of "what if this visit were on
Tuesday" questions; the route solver (:mod:`routing.vrp`) is far too slow for that, so this
module prices them on the order the day already has: cheapest insertion position by drive-time
delta (vectorised), then an exact forward schedule (windows, fixed appointment times, lunch and
fixed breaks taken between visits, the shift end). The day's final order and times come from
:func:`routing.vrp.solve`; this model only has to agree with it on what fits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from routing.week.instance import Instance, Windows

POSITIONS_TRIED = 12
"""Insertion positions checked exactly (cheapest by drive delta first); a fixed time tries all."""


@dataclass(frozen=True, slots=True)
class Visit:
    """One visit the planner places: an account's k-th visit in the horizon, or an appointment.

    Attributes:
        index: Position in the planner's visit list.
        account: Account index.
        number: 1 for the account's first visit in the horizon, 2 for the next...
        earliest: First allowed day index (spacing after the previous visit).
        latest: Last allowed day index (spacing before a later appointment).
        due_date_ordinal: The date (ordinal) the visit falls due.
        fixed_day: Appointment: its day index; ``None`` otherwise.
        fixed_start: Appointment: its start (seconds).
        duration: Seconds on site.
        appointment_id: The appointment's key.
        optional: Not due inside the horizon, but allowed by the spacing rule: planned only
            where it costs a small detour (a visit pulled forward while in the area).
    """

    index: int
    account: int
    number: int
    earliest: int
    latest: int
    due_date_ordinal: int
    duration: int
    fixed_day: int | None = None
    fixed_start: int | None = None
    appointment_id: str | None = None
    optional: bool = False


@dataclass(slots=True)
class DayRoute:
    """A day's current visits in order, with the schedule's drive time and finish time."""

    day: int
    seq: list[int] = field(default_factory=list)
    drive: int = 0
    finish: int = 0


class RouteModel:
    """Prices routes of the instance's days for the visits in ``visits``."""

    def __init__(self, inst: Instance, visits: list[Visit]) -> None:
        self.inst = inst
        self.visits = visits
        self.secs = inst.seconds

    def loc(self, v: int) -> int:
        """Matrix location of visit ``v``."""
        return self.inst.acc_loc[self.visits[v].account]

    def windows(self, v: int, day: int) -> Windows:
        """The visit's open windows on ``day``."""
        return self.inst.windows[self.visits[v].account][day]

    def schedule(self, day: int, seq: list[int]) -> tuple[int, int, list[int]] | None:
        """Drive seconds, finish time and visit starts of ``seq`` on ``day``, or ``None``.

        Breaks are taken between visits (while driving or waiting), as late as the next
        visit allows, and never after their latest start.
        """
        wd = self.inst.days[day]
        if wd.off:
            return None if seq else (0, wd.shift_start, [])
        secs = self.secs
        t = wd.shift_start
        loc = self.inst.day_start[day]
        pending = list(wd.breaks)
        drive = 0
        starts: list[int] = []
        for v in seq:
            visit = self.visits[v]
            to = self.inst.acc_loc[visit.account]
            travel = int(secs[loc, to])
            ready = t + travel
            st = _start(ready, visit, self.inst.windows[visit.account][day])
            if st is None:
                return None
            while pending and st + visit.duration > pending[0][1]:
                lo, hi, length = pending.pop(0)
                bs = max(t, lo)
                if bs > hi:
                    return None
                t = bs + length
                ready = max(ready, bs) + length
                st = _start(ready, visit, self.inst.windows[visit.account][day])
                if st is None:
                    return None
            drive += travel
            starts.append(st)
            t = st + visit.duration
            loc = to
        travel = int(secs[loc, self.inst.day_end[day]])
        finish = t + travel
        for lo, hi, length in pending:
            bs = max(t, lo)
            if bs > hi:
                return None
            t = bs + length
            finish = max(finish, bs) + length
        if finish > wd.shift_end:
            return None
        if not seq and self.inst.day_start[day] == self.inst.day_end[day]:
            return 0, wd.shift_start, []
        return drive + travel, finish, starts

    def deltas(self, route: DayRoute, cand: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        """Cheapest insertion drive delta of each candidate location into ``route``."""
        inst = self.inst
        path = [
            inst.day_start[route.day],
            *(self.loc(v) for v in route.seq),
            inst.day_end[route.day],
        ]
        p = np.asarray(path, dtype=np.int64)
        a, b = p[:-1], p[1:]
        d = self.secs[a][:, cand] + self.secs[cand][:, b].T - self.secs[a, b][:, None]
        result: npt.NDArray[np.int64] = d.min(axis=0)
        return result

    def insert(self, route: DayRoute, v: int) -> tuple[int, DayRoute] | None:
        """Best feasible insertion of visit ``v``: (drive delta, new route), or ``None``."""
        inst = self.inst
        path = [
            inst.day_start[route.day],
            *(self.loc(x) for x in route.seq),
            inst.day_end[route.day],
        ]
        p = np.asarray(path, dtype=np.int64)
        c = self.loc(v)
        d = self.secs[p[:-1], c] + self.secs[c, p[1:]] - self.secs[p[:-1], p[1:]]
        order = np.argsort(d, kind="stable")
        limit = len(order) if self.visits[v].fixed_start is not None else POSITIONS_TRIED
        for pos in order[:limit]:
            seq = [*route.seq[: int(pos)], v, *route.seq[int(pos) :]]
            sched = self.schedule(route.day, seq)
            if sched is not None:
                # Drive time depends on the order only, so the first fit is the cheapest.
                return sched[0] - route.drive, DayRoute(route.day, seq, sched[0], sched[1])
        return None

    def remove(self, route: DayRoute, v: int) -> DayRoute:
        """``route`` without visit ``v`` (removing a visit never breaks a schedule)."""
        seq = [x for x in route.seq if x != v]
        sched = self.schedule(route.day, seq)
        if sched is None:  # waiting rules can in rare cases make a shorter route late
            return DayRoute(route.day, seq, route.drive, route.finish)
        return DayRoute(route.day, seq, sched[0], sched[1])

    def rebuild(self, day: int, seq: list[int]) -> DayRoute | None:
        """The route with exactly ``seq`` (``None`` if it does not fit)."""
        sched = self.schedule(day, seq)
        if sched is None:
            return None
        return DayRoute(day, list(seq), sched[0], sched[1])


def _start(ready: int, visit: Visit, windows: Windows) -> int | None:
    """Earliest start at or after ``ready`` inside a window (or the appointment's time)."""
    if visit.fixed_start is not None:
        return visit.fixed_start if ready <= visit.fixed_start else None
    for lo, hi in windows:
        st = max(ready, lo)
        if st + visit.duration <= hi:
            return st
    return None


__all__ = ["POSITIONS_TRIED", "DayRoute", "RouteModel", "Visit"]
