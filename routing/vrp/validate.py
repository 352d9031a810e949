"""Checks before solving: every bad input gets a specific answer (which stop or vehicle, why).

The solver itself only says "not planned"; people need "closed on Mondays", "unreachable", or
"needs 40 more minutes than the shift has". So each stop is first checked *on its own* against
each vehicle that may take it (reachability, windows against the shift, the round trip alone,
capacity). Required stops that fail raise :class:`InfeasibleProblemError`; optional stops that
fail are dropped with that reason and never reach the solver (which also makes it faster).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from routing.vrp.engine import UNREACHABLE, CoreInput, int_matrix
from routing.vrp.model import (
    DayProblem,
    DaySolution,
    DroppedStop,
    InfeasibleProblemError,
    Issue,
    ReasonCode,
    Route,
    Stop,
    TimeWindow,
    Vehicle,
)


def hhmm(t: int) -> str:
    """Seconds since midnight as ``HH:MM`` (``+1d`` past midnight)."""
    day, rest = divmod(int(t), 86_400)
    h, m = divmod(rest // 60, 60)
    return f"{h:02d}:{m:02d}" + (f"+{day}d" if day else "")


def minutes(s: int) -> str:
    """A duration in whole minutes, rounded up, for messages."""
    return f"{-(-int(s) // 60)} min"


@dataclass(frozen=True, slots=True)
class Verdict:
    """Why one stop cannot be planned alone, or ``None`` fields when it can."""

    code: ReasonCode
    message: str


def check_vehicles(problem: DayProblem) -> list[Issue]:
    """Shape and shift/break sanity of the problem; each issue names the vehicle."""
    issues: list[Issue] = []
    n = np.asarray(problem.seconds).shape
    if len(n) != 2 or n[0] != n[1] or np.asarray(problem.metres).shape != n:
        return [Issue("bad_matrix", f"matrices must be square and equal in shape, got {n}")]
    if not problem.vehicles:
        issues.append(Issue("no_vehicles", "the problem has no vehicle"))
    ids = [v.id for v in problem.vehicles]
    if len(set(ids)) != len(ids):
        issues.append(Issue("duplicate_vehicle", "vehicle ids must be unique"))
    sids = [s.id for s in problem.stops]
    if len(set(sids)) != len(sids):
        dup = sorted({x for x in sids if sids.count(x) > 1})
        issues.append(Issue("duplicate_stop", f"stop ids must be unique: {', '.join(dup)}"))
    for v in problem.vehicles:
        for loc, what in ((v.start_location, "start"), (v.end_location, "end")):
            if not 0 <= loc < n[0]:
                issues.append(
                    Issue(
                        "bad_location",
                        f"vehicle {v.id}: {what} location {loc} is not in "
                        f"the matrix (0..{n[0] - 1})",
                        vehicle_id=v.id,
                    )
                )
        length = v.shift_end - v.shift_start
        if length < 0:
            issues.append(
                Issue(
                    "bad_shift",
                    f"vehicle {v.id}: shift ends ({hhmm(v.shift_end)}) before it "
                    f"starts ({hhmm(v.shift_start)})",
                    vehicle_id=v.id,
                )
            )
            continue
        for b in v.breaks:
            if b.duration > length:
                issues.append(
                    Issue(
                        "break_longer_than_shift",
                        f"vehicle {v.id}: the {minutes(b.duration)}"
                        f" break is longer than the {minutes(length)} shift",
                        vehicle_id=v.id,
                    )
                )
            elif b.latest_start < b.earliest_start:
                issues.append(
                    Issue(
                        "bad_break",
                        f"vehicle {v.id}: break latest start "
                        f"{hhmm(b.latest_start)} is before its earliest start "
                        f"{hhmm(b.earliest_start)}",
                        vehicle_id=v.id,
                    )
                )
            elif b.earliest_start > v.shift_end - b.duration or b.latest_start < v.shift_start:
                issues.append(
                    Issue(
                        "break_outside_shift",
                        f"vehicle {v.id}: the break must start "
                        f"between {hhmm(b.earliest_start)} and {hhmm(b.latest_start)}, "
                        f"which does not fit in the shift {hhmm(v.shift_start)}–"
                        f"{hhmm(v.shift_end)}",
                        vehicle_id=v.id,
                    )
                )
    for s in problem.stops:
        if not 0 <= s.location < n[0]:
            issues.append(
                Issue(
                    "bad_location",
                    f"stop {s.id}: location {s.location} is not in the matrix (0..{n[0] - 1})",
                    stop_id=s.id,
                )
            )
    return issues


def _alone(stop: Stop, v: Vehicle, t_in: int, t_out: int) -> Verdict | None:
    """Can ``v`` visit ``stop`` alone (start, visit, end) within its shift and windows?"""
    if t_in >= UNREACHABLE or t_out >= UNREACHABLE:
        return Verdict("unreachable", "unreachable: no road to or from it")
    windows = list(stop.windows) if stop.windows is not None else [TimeWindow(0, 10**9)]
    earliest = v.shift_start + t_in
    latest_start = v.shift_end - t_out - stop.duration_s
    best_over: int | None = None
    fitting = [w for w in windows if w.end - w.start >= stop.duration_s]
    if not fitting:
        w = windows[0]
        return Verdict(
            "no_window",
            f"its window {hhmm(w.start)}–{hhmm(w.end)} is shorter than the "
            f"{minutes(stop.duration_s)} visit",
        )
    for w in fitting:
        start = max(earliest, w.start)
        if start + stop.duration_s > w.end:
            continue
        if start <= latest_start:
            return None
        over = start - latest_start
        best_over = over if best_over is None else min(best_over, over)
    last_close = max(w.end for w in fitting)
    first_open = min(w.start for w in fitting)
    if best_over is None:
        if last_close <= v.shift_start:
            return Verdict(
                "outside_shift",
                f"its window closes at {hhmm(last_close)}, before the shift "
                f"starts at {hhmm(v.shift_start)}",
            )
        return Verdict(
            "outside_shift",
            f"it closes at {hhmm(last_close)}, before the rep can get there "
            f"and finish the {minutes(stop.duration_s)} visit (earliest arrival "
            f"{hhmm(earliest)})",
        )
    if first_open >= v.shift_end:
        return Verdict(
            "outside_shift",
            f"it opens at {hhmm(first_open)}, after the shift ends at {hhmm(v.shift_end)}",
        )
    return Verdict(
        "too_long",
        f"needs {minutes(best_over)} more than the shift has (drive there, "
        f"{minutes(stop.duration_s)} visit, drive back by {hhmm(v.shift_end)})",
    )


def prepare(problem: DayProblem) -> tuple[CoreInput, list[DroppedStop], list[Issue]]:
    """Check the problem and reduce it to what the solver needs.

    Returns:
        The core input (plannable stops), optional stops dropped before solving (with
        reasons), and issues (required stops that cannot be planned even alone).

    Raises:
        InfeasibleProblemError: The problem is malformed (matrix shape, shift, break,
            locations); each issue names the vehicle or stop.
    """
    issues = check_vehicles(problem)
    if issues:
        raise InfeasibleProblemError(issues)
    secs = int_matrix(problem.seconds, ceil=True)
    vehicles = problem.vehicles
    vindex = {v.id: i for i, v in enumerate(vehicles)}
    plan: list[int] = []
    allowed: list[list[int]] = []
    starts: list[list[tuple[int, int]]] = []
    dropped: list[DroppedStop] = []
    lo_shift = min(v.shift_start for v in vehicles)
    hi_shift = max(v.shift_end for v in vehicles)
    for si, s in enumerate(problem.stops):
        verdict: Verdict | None = None
        if s.windows is not None and len(s.windows) == 0:
            verdict = Verdict("closed", s.hours_note or "closed all day")
        elif s.fixed_vehicle is not None and s.fixed_vehicle not in vindex:
            verdict = Verdict("no_vehicle", f"its vehicle {s.fixed_vehicle} is not available")
        cands = (
            [vindex[s.fixed_vehicle]]
            if s.fixed_vehicle is not None and s.fixed_vehicle in vindex
            else list(range(len(vehicles)))
        )
        ok: list[int] = []
        if verdict is None:
            cap_ok = [
                vi
                for vi in cands
                if vehicles[vi].capacity is None or s.demand <= (vehicles[vi].capacity or 0)
            ]
            if not cap_ok:
                verdict = Verdict(
                    "over_capacity", f"its demand {s.demand} exceeds every vehicle's capacity"
                )
            verdicts: list[Verdict] = []
            for vi in cap_ok:
                v = vehicles[vi]
                r = _alone(
                    s,
                    v,
                    int(secs[v.start_location, s.location]),
                    int(secs[s.location, v.end_location]),
                )
                if r is None:
                    ok.append(vi)
                else:
                    verdicts.append(r)
            if not ok and verdicts:
                verdict = _most_telling(verdicts)
        if verdict is not None:
            if s.required:
                issues.append(
                    Issue(verdict.code, f"required stop {s.id}: {verdict.message}", stop_id=s.id)
                )
            else:
                dropped.append(DroppedStop(s.id, verdict.code, verdict.message))
            continue
        ws = list(s.windows) if s.windows is not None else [TimeWindow(lo_shift, hi_shift)]
        ivs = sorted(
            (max(w.start, 0), w.end - s.duration_s) for w in ws if w.end - w.start >= s.duration_s
        )
        plan.append(si)
        allowed.append(ok)
        starts.append(ivs)
    total = sum(int(x) for x in np.minimum(secs, UNREACHABLE).max(axis=1)) if len(secs) else 0
    required_penalty = max(10**9, 100 * (total + sum(max(0, s.penalty) for s in problem.stops)))
    return CoreInput(problem, plan, allowed, starts, required_penalty), dropped, issues


def _most_telling(verdicts: list[Verdict]) -> Verdict:
    """Pick the reason that explains best why no vehicle can take the stop."""
    order: list[ReasonCode] = ["too_long", "outside_shift", "no_window", "unreachable"]
    return min(verdicts, key=lambda v: order.index(v.code) if v.code in order else len(order))


def check_plan(problem: DayProblem, solution: DaySolution) -> list[str]:
    """Every way ``solution`` breaks the rules of ``problem`` (empty list: the plan is valid).

    Checked from the plan alone, independently of the engine that made it: each stop at
    most once, on a vehicle allowed to take it, required stops planned, each visit inside one
    of its windows, drives (integer seconds, rounded up) and breaks fitting between visits,
    every break once, starting in its window and not during a visit, the shift and capacity.
    """
    secs = int_matrix(problem.seconds, ceil=True)
    stops = {s.id: s for s in problem.stops}
    errors: list[str] = []
    seen: set[str] = set()
    for v in problem.vehicles:
        route = solution.routes.get(v.id)
        if route is None:
            errors.append(f"vehicle {v.id}: no route")
            continue
        errors += _check_route(secs, v, route, stops, seen)
    dropped = {d.stop_id for d in solution.dropped}
    for s in problem.stops:
        if s.id not in seen and s.id not in dropped:
            errors.append(f"stop {s.id}: neither planned nor dropped")
        if s.required and s.id not in seen:
            errors.append(f"required stop {s.id}: not planned")
    return errors


def _check_route(
    secs: npt.NDArray[np.int64],
    v: Vehicle,
    route: Route,
    stops: dict[str, Stop],
    seen: set[str],
) -> list[str]:
    """Violations in one vehicle's route (see :func:`check_plan`)."""
    errors: list[str] = []
    where = f"vehicle {v.id}"
    if len(route.breaks) != len(v.breaks):
        errors.append(f"{where}: {len(route.breaks)} breaks planned, {len(v.breaks)} required")
    for b, taken in zip(v.breaks, route.breaks, strict=False):
        if not b.earliest_start <= taken.start <= b.latest_start or taken.duration != b.duration:
            errors.append(f"{where}: break at {hhmm(taken.start)} outside its window")
    if route.departure < v.shift_start or route.end_arrival > v.shift_end:
        errors.append(f"{where}: route outside the shift")
    prev_end, here, load = route.departure, v.start_location, 0
    for rs in route.stops:
        s = stops.get(rs.stop_id)
        if s is None or rs.stop_id in seen:
            errors.append(f"{where}: stop {rs.stop_id} unknown or planned twice")
            continue
        seen.add(rs.stop_id)
        load += s.demand
        if s.fixed_vehicle is not None and s.fixed_vehicle != v.id:
            errors.append(f"{where}: stop {s.id} belongs to vehicle {s.fixed_vehicle}")
        windows = list(s.windows) if s.windows is not None else [TimeWindow(0, 10**9)]
        if rs.end != rs.start + s.duration_s or not any(
            w.start <= rs.start and rs.end <= w.end for w in windows
        ):
            errors.append(f"{where}: visit {s.id} at {hhmm(rs.start)} outside its windows")
        errors += _check_gap(where, route, prev_end, rs.start, int(secs[here, s.location]))
        prev_end, here = rs.end, s.location
    errors += _check_gap(where, route, prev_end, route.end_arrival, int(secs[here, v.end_location]))
    if v.capacity is not None and load > v.capacity:
        errors.append(f"{where}: load {load} over capacity {v.capacity}")
    return errors


def _check_gap(where: str, route: Route, begin: int, end: int, travel: int) -> list[str]:
    """The drive of ``travel`` s and the breaks inside ``[begin, end)`` fit in that gap."""
    inside = [b for b in route.breaks if begin <= b.start < end]
    overlapping = [
        b
        for b in route.breaks
        if b not in inside and b.start < end and b.start + b.duration > begin
    ]
    busy = sum(b.duration for b in inside)
    if overlapping or any(b.start + b.duration > end for b in inside):
        return [f"{where}: a break overlaps a visit ({hhmm(begin)}–{hhmm(end)})"]
    if end - begin < travel + busy:
        return [f"{where}: {hhmm(begin)}–{hhmm(end)} is too short for the drive and breaks"]
    return []


__all__ = ["check_plan", "check_vehicles", "hhmm", "minutes", "prepare"]
