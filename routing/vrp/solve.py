"""Plan a day (one rep or a team) and re-plan it during the day.

One model (:func:`routing.vrp.validate.prepare`), two search engines, the same plan format
and drop reasons whichever runs (the same for a rep's day and for the Solomon benchmark):

1. PyVRP's iterated local search (:mod:`routing.vrp.pyvrp_engine`) for every problem it
   models exactly, stopped after a fixed number of iterations; its plan is re-timed exactly
   (breaks included) and verified by :func:`routing.vrp.validate.check_plan`.
2. Otherwise, or when that plan fails verification, the OR-Tools model: parallel cheapest
   insertion or the previous plan as the start, guided local search stopped after
   ``solution_limit`` solutions, then ``lns_iterations`` ruin-and-recreate steps
   (:mod:`routing.vrp.lns`).

Both are limited by work, not time, so the same input gives the same plan; the time limit is
a safety net only (when it fires the plan may differ between runs, see
:attr:`SolveParams.solution_limit`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from routing.vrp.engine import Core, CoreResult, int_matrix
from routing.vrp.lns import improve
from routing.vrp.model import (
    BreakTaken,
    DayProblem,
    DaySolution,
    DroppedStop,
    InfeasibleProblemError,
    Issue,
    Route,
    RouteStop,
    SolveParams,
    Stop,
)
from routing.vrp.pyvrp_engine import exact_for, solve_pyvrp
from routing.vrp.validate import check_plan, prepare


def run_search(core: Core, params: SolveParams, deadline: float) -> Any:
    """Construction (or previous order) + guided local search + ruin-and-recreate.

    Args:
        core: The built model.
        params: Limits and hints.
        deadline: Absolute ``time.monotonic()`` deadline.
    """
    initial = _previous_routes(core, params)
    t0 = time.monotonic()
    gls_deadline = (
        deadline if params.solution_limit is not None else t0 + params.gls_share * (deadline - t0)
    )
    best = core.solve_phase(
        phase="gls", deadline=gls_deadline, solution_limit=params.solution_limit, initial=initial
    )
    if best is None and initial is not None:
        best = core.solve_phase(
            phase="gls", deadline=gls_deadline, solution_limit=params.solution_limit
        )
    if best is None:
        return None
    iterations = params.lns_iterations if params.solution_limit is not None else None
    if iterations == 0:
        return best
    return improve(core, best, deadline=deadline, iterations=iterations, seed=params.seed)


def _previous_routes(core: Core, params: SolveParams) -> list[list[int]] | None:
    """The previous order as node routes of this model (unknown or removed stops skipped)."""
    if not params.previous_order:
        return None
    node = {core.ci.problem.stops[s].id: k for k, s in enumerate(core.ci.plan_stops)}
    return [
        [node[sid] for sid in params.previous_order.get(v.id, []) if sid in node]
        for v in core.ci.problem.vehicles
    ]


def solve(problem: DayProblem, params: SolveParams | None = None) -> DaySolution:
    """Plan the day: which optional stops to visit, in which order, at what times.

    Args:
        problem: Matrices, vehicles, stops.
        params: Search limits and hints; defaults are deterministic (work-limited).

    Returns:
        Routes per vehicle, dropped optional stops with reasons, and notes.

    Raises:
        InfeasibleProblemError: A vehicle or break is malformed, or a required stop cannot be
            planned; each issue names the stop or vehicle and why. When the solver ran,
            ``partial`` holds the best plan without the offending stops.
    """
    params = params or SolveParams()
    deadline = time.monotonic() + params.time_limit_s
    ci, pre_dropped, issues = prepare(problem)
    if issues:
        raise InfeasibleProblemError(issues)
    if not ci.plan_stops:
        return _to_solution(problem, None, pre_dropped)
    solution: DaySolution | None = None
    if params.engine != "ortools" and exact_for(ci, params):
        found = solve_pyvrp(ci, params, deadline)
        if found is not None:
            solution = replace(_to_solution(problem, found, pre_dropped), engine="pyvrp")
            if check_plan(problem, solution):  # never hand out a plan that breaks a rule
                solution = None
            else:
                result = found
    if solution is None:
        # OR-Tools: a previous order to keep, a break PyVRP cannot express, or no verified
        # PyVRP plan (which includes required stops that cannot all fit: named below).
        deadline = max(deadline, time.monotonic() + min(2.0, params.time_limit_s))
        core = Core(ci, params)
        assignment = run_search(core, params, deadline)
        if assignment is None:  # cannot happen with all-disjunction models, kept as a guard
            raise InfeasibleProblemError(
                [Issue("no_solution", "the solver found no plan within the limits")]
            )
        result = core.extract(assignment)
        solution = _to_solution(problem, result, pre_dropped)
    missing = [problem.stops[s] for s in result.unplanned if problem.stops[s].required]
    if missing:
        raise InfeasibleProblemError(
            [
                Issue(
                    "infeasible_together",
                    f"required stop {s.id}: cannot be fitted together with the other required "
                    "stops, windows and breaks in the shift",
                    stop_id=s.id,
                )
                for s in missing
            ],
            partial=solution,
        )
    return solution


def _to_solution(
    problem: DayProblem, result: CoreResult | None, pre_dropped: list[DroppedStop]
) -> DaySolution:
    """Turn the raw solver output into routes with arrival/wait/start/end and reasons."""
    secs = int_matrix(problem.seconds, ceil=True)
    metres = np.asarray(problem.metres, dtype=np.float64)
    routes: dict[str, Route] = {}
    total_s, total_m, used = 0, 0.0, 0
    chosen = 0
    for vi, v in enumerate(problem.vehicles):
        cr = result.routes[vi] if result else None
        stops: list[RouteStop] = []
        breaks = [
            BreakTaken(start, b.duration)
            for b, start in zip(v.breaks, cr.break_starts if cr else [], strict=False)
            if start is not None
        ]
        prev_loc = v.start_location
        prev_end = cr.departure if cr else v.shift_start
        drive_s, drive_m = 0, 0.0
        for si, start in zip(cr.stops if cr else [], cr.starts if cr else [], strict=True):
            s = problem.stops[si]
            leg_s, leg_m = int(secs[prev_loc, s.location]), float(metres[prev_loc, s.location])
            brk = next((b for b in breaks if prev_end <= b.start < start), None)
            arrival = min(start, prev_end + leg_s + (brk.duration if brk else 0))
            stops.append(
                RouteStop(
                    s.id,
                    s.location,
                    arrival,
                    start - arrival,
                    start,
                    start + s.duration_s,
                    leg_s,
                    leg_m,
                    brk,
                )
            )
            drive_s, drive_m = drive_s + leg_s, drive_m + leg_m
            prev_loc, prev_end = s.location, start + s.duration_s
        end_s = int(secs[prev_loc, v.end_location])
        end_m = float(metres[prev_loc, v.end_location])
        if not stops:
            end_s, end_m = (end_s, end_m) if v.start_location != v.end_location else (0, 0.0)
        drive_s, drive_m = drive_s + end_s, drive_m + end_m
        routes[v.id] = Route(
            vehicle_id=v.id,
            departure=cr.departure if cr else v.shift_start,
            stops=stops,
            end_arrival=cr.end_arrival if cr else v.shift_start + end_s,
            end_leg_seconds=end_s,
            end_leg_metres=end_m,
            breaks=breaks,
            drive_seconds=drive_s,
            drive_metres=drive_m,
        )
        total_s, total_m = total_s + drive_s, total_m + drive_m
        used += bool(stops)
        chosen += len(stops)
    dropped = list(pre_dropped)
    for si in result.unplanned if result else []:
        s = problem.stops[si]
        if not s.required:
            dropped.append(
                DroppedStop(
                    s.id,
                    "low_priority",
                    f"lower priority than the {chosen} stops chosen: not worth the detour "
                    "or no time left in the shift",
                )
            )
    guessed = "opening hours unknown: assumed open during the shift"
    notes = [
        f"{s.label or s.id}: {s.hours_note or guessed}" for s in problem.stops if not s.hours_known
    ]
    return DaySolution(
        routes=routes,
        dropped=dropped,
        notes=notes,
        objective=result.objective if result else 0,
        total_seconds=total_s,
        total_metres=total_m,
        vehicles_used=used,
    )


@dataclass(frozen=True, slots=True)
class VehicleProgress:
    """Where a rep is during the day, for :func:`replan`.

    Attributes:
        location: Current position (matrix index), e.g. the GPS fix snapped to the network.
        time: Now, in seconds since midnight.
        done: Stop ids already visited (fixed: they leave the problem).
        breaks_taken: How many of the vehicle's breaks (in order) are already taken.
    """

    location: int
    time: int
    done: tuple[str, ...] | list[str] = ()
    breaks_taken: int = 0


def replan(
    problem: DayProblem,
    progress: dict[str, VehicleProgress],
    previous: DaySolution | dict[str, list[str]] | None,
    params: SolveParams | None = None,
    *,
    cancelled: tuple[str, ...] | list[str] = (),
    added: tuple[Stop, ...] | list[Stop] = (),
) -> DaySolution:
    """Re-optimize the rest of the day from where each rep is now.

    Finished visits are fixed (they leave the problem), cancelled stops are removed, added
    stops (an urgent account) join; every vehicle starts at its current position and time.
    The previous plan is the starting solution and leaving its order costs
    :attr:`SolveParams.reorder_penalty` per changed successor, so untouched stops keep
    their order unless re-ordering saves more than that.

    Args:
        problem: The morning's problem.
        progress: Per vehicle id, its position, time, finished stops, breaks taken.
        previous: The plan being revised (or its orders ``{vehicle_id: [stop_id, ...]}``).
        params: Search parameters (``previous_order`` is filled from ``previous``).
        cancelled: Stop ids to remove.
        added: New stops.

    Returns:
        The plan for the remaining stops.
    """
    params = params or SolveParams()
    done = {sid for p in progress.values() for sid in p.done}
    gone = done | set(cancelled)
    vehicles = []
    for v in problem.vehicles:
        p = progress.get(v.id)
        if p is None:
            vehicles.append(v)
            continue
        now = max(v.shift_start, p.time)
        breaks = [
            replace(b, earliest_start=max(b.earliest_start, now))
            for b in list(v.breaks)[p.breaks_taken :]
            if b.latest_start >= now
        ]
        vehicles.append(replace(v, start_location=p.location, shift_start=now, breaks=breaks))
    stops = [s for s in problem.stops if s.id not in gone] + list(added)
    if isinstance(previous, DaySolution):
        order = {vid: [rs.stop_id for rs in r.stops] for vid, r in previous.routes.items()}
    else:
        order = dict(previous or {})
    order = {vid: [sid for sid in ids if sid not in gone] for vid, ids in order.items()}
    new_problem = DayProblem(problem.seconds, problem.metres, vehicles, stops)
    return solve(new_problem, replace(params, previous_order=order or None))


__all__ = ["VehicleProgress", "replan", "run_search", "solve"]
