"""Exact timing of one vehicle's route: visits in a given order, breaks in given gaps.

PyVRP has no breaks, so :mod:`routing.vrp.pyvrp_engine` models a break as a visit at the
rep's current location and then times the route *here*, with the day planner's own rules,
which are the ones the OR-Tools model enforces:

* a visit starts inside one of its start intervals and is never interrupted;
* a break starts in ``[earliest_start, latest_start]`` and happens while driving or waiting
  between two visits (or before the first, or after the last): the drive of that gap is done
  in the gap's time outside the breaks, so a break may interrupt a drive but not a visit.

Times are integer seconds, travel times are the ceiled integer matrix the solver uses, so a
route timed here is feasible in the caller's floating-point matrix as well.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from routing.vrp.engine import IntMatrix
from routing.vrp.model import Break, Vehicle


@dataclass(frozen=True, slots=True)
class Timing:
    """Times of a route: visit starts, departure, arrival at the end, break starts by index."""

    starts: list[int]
    departure: int
    end_arrival: int
    break_starts: list[int | None]


def _through_gap(
    now: int, travel: int, breaks: Sequence[tuple[int, Break]], starts: list[int | None]
) -> int | None:
    """Earliest arrival after a drive of ``travel`` s leaving at ``now`` with ``breaks`` on the way.

    Each break starts as early as its window and the previous break allow (driving until
    then); it returns ``None`` when a break cannot start by its latest start.
    """
    remaining = travel
    for j, b in breaks:
        t = max(now, b.earliest_start)
        if t > b.latest_start:
            return None
        remaining = max(0, remaining - (t - now))
        now = t + b.duration
        starts[j] = t
    return now + remaining


def time_route(
    secs: IntMatrix,
    vehicle: Vehicle,
    locations: Sequence[int],
    durations: Sequence[int],
    windows: Sequence[tuple[int, int]],
    gaps: Sequence[Sequence[int]],
) -> Timing | None:
    """Time a route, or ``None`` when it breaks a window, a break window or the shift.

    Args:
        secs: Integer travel-time matrix (seconds, ceiled).
        vehicle: The vehicle (start, end, shift, breaks).
        locations: Matrix location of each visit, in route order.
        durations: Visit durations.
        windows: Per visit, the allowed interval of its *start* (one interval: the window
            the solver chose for it).
        gaps: ``len(locations) + 1`` lists of break indices (into ``vehicle.breaks``): the
            breaks taken before visit ``i`` (``gaps[-1]``: before the return), in order.
            Every break must appear once.

    Returns:
        Earliest visit starts; the departure is the latest that keeps them.
    """
    timing = _forward(secs, vehicle, locations, durations, windows, gaps, vehicle.shift_start)
    if timing is None or not locations:
        return timing
    breaks0 = sum(vehicle.breaks[j].duration for j in gaps[0])
    latest = timing.starts[0] - int(secs[vehicle.start_location, locations[0]]) - breaks0
    if latest > vehicle.shift_start:
        later = _forward(secs, vehicle, locations, durations, windows, gaps, latest)
        if later is not None and later.starts == timing.starts:
            return later
    return timing


def _forward(
    secs: IntMatrix,
    vehicle: Vehicle,
    locations: Sequence[int],
    durations: Sequence[int],
    windows: Sequence[tuple[int, int]],
    gaps: Sequence[Sequence[int]],
    departure: int,
) -> Timing | None:
    """Earliest times of the route leaving at ``departure``."""
    brk = list(vehicle.breaks)
    break_starts: list[int | None] = [None] * len(brk)
    now, here = departure, vehicle.start_location
    starts: list[int] = []
    for i, loc in enumerate(locations):
        ready = _through_gap(
            now, int(secs[here, loc]), [(j, brk[j]) for j in gaps[i]], break_starts
        )
        if ready is None:
            return None
        lo, hi = windows[i]
        start = max(ready, lo)
        if start > hi:
            return None
        starts.append(start)
        now, here = start + durations[i], loc
    end = _through_gap(
        now, int(secs[here, vehicle.end_location]), [(j, brk[j]) for j in gaps[-1]], break_starts
    )
    if end is None or end > vehicle.shift_end:
        return None
    return Timing(starts, departure, end, break_starts)


__all__ = ["Timing", "time_route"]
