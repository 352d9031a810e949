"""Plan a rep's horizon of working days, or re-plan it after a change.

Recipe (each step in its own module):

1. :mod:`~routing.week.instance`: validate, shape the days (absences, lunch), windows per
   weekday from OSM opening hours.
2. :mod:`~routing.week.assign`: appointments first, then regret insertion of every due visit
   into the days, then a priority repair when the horizon is full.
3. :mod:`~routing.week.improve`: relocate and swap visits between days.
4. Route optimisation of each day with :func:`routing.vrp.solve` (a quick solve whose order
   feeds a last improvement pass, then the final solve), so the week planner gets whatever
   solver core :mod:`routing.vrp` has.

Everything is limited by work, not time, so the same input gives the same plan.

Example:
    >>> plan = plan_week(problem, build_matrix(net, problem))  # doctest: +SKIP
    >>> [(d.date, len(d.stops)) for d in plan.days]  # doctest: +SKIP
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field, replace

import numpy as np

from routing.network import RoadNetwork
from routing.vrp import (
    Break,
    DayProblem,
    DaySolution,
    InfeasibleProblemError,
    SolveParams,
    Stop,
    TimeWindow,
    Vehicle,
    solve,
)
from routing.week.assign import construct, repair, seed
from routing.week.fill import fill
from routing.week.improve import improve
from routing.week.instance import compile_problem
from routing.week.matrix import WeekMatrix, build_matrix
from routing.week.model import (
    Churn,
    DayPlan,
    PlannedStop,
    Unscheduled,
    WeekPlan,
    WeekPlanError,
    WeekProblem,
)
from routing.week.reasons import explain, spacing_reason
from routing.week.state import State, Weights

MUST = 10_000_000
"""Drop penalty of an assigned visit in the day solve: keep it whenever it fits."""
HINT_MIN_STOPS = 4
"""Days with fewer stops are solved without the current order as a starting point."""


@dataclass(frozen=True, slots=True)
class WeekParams:
    """How the week planner searches.

    Attributes:
        weights: The objective's weights (lateness, earliness, balance, churn).
        improve_passes: Relocate/swap passes before and after the per-day ordering.
        order_params: Solver limits for the quick per-day ordering between passes.
        route_params: Solver limits for each day's final route.
    """

    weights: Weights = field(default_factory=Weights)
    improve_passes: int = 6
    order_params: SolveParams = field(
        default_factory=lambda: SolveParams(time_limit_s=2.0, lns_iterations=0, solution_limit=20)
    )
    route_params: SolveParams = field(
        default_factory=lambda: SolveParams(time_limit_s=5.0, lns_iterations=3, solution_limit=100)
    )


def plan_week(
    problem: WeekProblem, matrix: WeekMatrix, params: WeekParams | None = None
) -> WeekPlan:
    """Plan the horizon: which due visits on which day, in which order, at what times.

    Args:
        problem: Rep, book, horizon, appointments, absences.
        matrix: Drive times between :func:`routing.week.matrix.locations`.
        params: Search settings (deterministic defaults).

    Raises:
        WeekPlanError: Bad input (naming the field) or appointments that cannot be kept.
    """
    params = params or WeekParams()
    t0 = time.perf_counter()
    inst = compile_problem(problem, matrix)
    state = State(inst, params.weights)
    return _search(state, params, seed(state), t0)


def plan_week_on(
    net: RoadNetwork,
    problem: WeekProblem,
    params: WeekParams | None = None,
    *,
    max_snap_m: float = 500.0,
) -> WeekPlan:
    """:func:`plan_week` with the matrix built on ``net``."""
    return plan_week(problem, build_matrix(net, problem, max_snap_m=max_snap_m), params)


def replan_week(
    problem: WeekProblem,
    matrix: WeekMatrix,
    previous: WeekPlan,
    *,
    started_through: dt.date | None = None,
    params: WeekParams | None = None,
) -> WeekPlan:
    """Re-plan after a change, keeping what the rep already knows.

    Days up to ``started_through`` stay exactly as they were; other visits go back on their
    previous day where they still may and fit, and moving one costs
    :attr:`Weights.churn` seconds in the objective, so only the days the change touches (and
    neighbours that take their overflow) change. A day whose visits are unchanged keeps its
    previous times. The result's :attr:`WeekPlan.churn` says what moved.
    """
    params = params or WeekParams()
    t0 = time.perf_counter()
    inst = compile_problem(problem, matrix)
    state = State(inst, params.weights)
    prev_days = {d.date: d for d in previous.days}
    order: dict[int, list[str]] = {}
    for i, wd in enumerate(inst.days):
        prev = prev_days.get(wd.date)
        if prev is None:
            continue
        if started_through is not None and wd.date <= started_through:
            state.locked.add(i)
            for stop in prev.stops:
                a = inst.acc_index.get(stop.account_id)
                if a is not None:
                    state.fixed_dates.setdefault(a, []).append(wd.date)
        else:
            order[i] = [s.account_id for s in prev.stops if s.appointment_id is None]
            for s in prev.stops:
                a = inst.acc_index.get(s.account_id)
                if a is not None:
                    state.preferred.setdefault(a, set()).add(i)
    for a in {
        inst.acc_index[s.account_id]
        for d in previous.days
        for s in d.stops
        if s.account_id in inst.acc_index
    }:
        state.preferred.setdefault(a, set())
    pending = seed(state, order)
    for i in sorted(state.locked):
        _lock_day(state, i, prev_days[inst.days[i].date])
    touched = _touched(state, prev_days, order)
    state.frozen = {
        i
        for i in range(len(inst.days))
        if i not in state.locked and all(abs(i - t) > 1 for t in touched)
    }
    plan = _search(state, params, pending, t0, previous=prev_days)
    return replace(plan, churn=churn(previous, plan))


def _touched(
    state: State, previous: dict[dt.date, DayPlan], order: dict[int, list[str]]
) -> set[int]:
    """Days the change reaches: appointments differ, or a previous visit did not go back."""
    inst = state.inst
    out: set[int] = set()
    for i, wd in enumerate(inst.days):
        prev = previous.get(wd.date)
        before = {s.appointment_id for s in prev.stops if s.appointment_id} if prev else set()
        if before != {ap.key for _a, ap in inst.appointments[i]}:
            out.add(i)
    for i, ids in order.items():
        back = {inst.problem.accounts[state.visits[v].account].id for v in state.routes[i].seq}
        if any(a not in back for a in ids):
            out.add(i)
    return out


def _lock_day(state: State, day: int, prev: DayPlan) -> None:
    """Previous visits of a started day become fixed visits at their times."""
    inst = state.inst
    for stop in prev.stops:
        a = inst.acc_index.get(stop.account_id)
        if a is None or stop.appointment_id is not None:
            continue
        v = state.add_visit(
            account=a,
            number=0,
            earliest=day,
            latest=day,
            due_date_ordinal=inst.days[day].date.toordinal(),
            duration=stop.departure - stop.start,
            fixed_day=day,
            fixed_start=stop.start,
            appointment_id=None,
        )
        seq = [*state.routes[day].seq, v]
        route = state.model.rebuild(
            day, sorted(seq, key=lambda x: state.visits[x].fixed_start or 0)
        )
        if route is not None:
            for x in route.seq:
                state.day_of[x] = day
                state.of_account.setdefault(state.visits[x].account, set()).add(x)
            state.routes[day] = route


def _search(
    state: State,
    params: WeekParams,
    pending: list[int],
    t0: float,
    previous: dict[dt.date, DayPlan] | None = None,
) -> WeekPlan:
    construct(state, pending)
    if state.frozen and any(state.visits[v].fixed_day is None for v in state.failed):
        # Where the days next to the change cannot take the overflow, the others may.
        state.frozen = set()
        waiting = [v for v in state.failed if state.visits[v].fixed_day is None]
        state.failed = [v for v in state.failed if state.visits[v].fixed_day is not None]
        construct(state, waiting)
    repair(state)
    moves = improve(state, params.improve_passes)
    fill(state)
    _order_days(state, params.order_params)
    moves += improve(state, max(1, params.improve_passes // 2))
    days, dropped = _final_routes(state, params.route_params, previous or {})
    unscheduled = _unscheduled(state, days, dropped)
    inst = state.inst
    unknown = sum(
        1
        for a, known in enumerate(inst.hours_known)
        if not known and any(state.visits[v].account == a for v in state.day_of)
    )
    notes = (
        (f"opening hours unknown for {unknown} planned accounts: assumed open during the shift",)
        if unknown
        else ()
    )
    stats = {"seconds": round(time.perf_counter() - t0, 3), "moves": float(moves)}
    return WeekPlan(inst.days[0].date, tuple(days), tuple(unscheduled), notes, None, stats)


def _day_problem(state: State, day: int, seq: list[int]) -> DayProblem:
    """The day's visits as a :class:`routing.vrp.DayProblem` on a sub-matrix."""
    inst = state.inst
    wd = inst.days[day]
    locs = [inst.day_start[day], inst.day_end[day], *(state.model.loc(v) for v in seq)]
    secs = inst.seconds[np.ix_(locs, locs)]
    metres = inst.metres[np.ix_(locs, locs)]
    stops = []
    for k, v in enumerate(seq, start=2):
        visit = state.visits[v]
        acc = inst.problem.accounts[visit.account]
        if visit.fixed_start is not None:
            windows = [TimeWindow(visit.fixed_start, visit.fixed_start + visit.duration)]
        else:
            windows = [TimeWindow(lo, hi) for lo, hi in inst.windows[visit.account][day]]
        stops.append(
            Stop(
                id=acc.id,
                location=k,
                duration_s=visit.duration,
                windows=windows,
                required=visit.fixed_start is not None,
                penalty=MUST,
                hours_known=inst.hours_known[visit.account],
                label=acc.label,
            )
        )
    vehicle = Vehicle(
        "rep", 0, 1, wd.shift_start, wd.shift_end, [Break(lo, hi, n) for lo, hi, n in wd.breaks]
    )
    return DayProblem(seconds=secs, metres=metres, vehicles=[vehicle], stops=stops)


def _solve_day(state: State, day: int, params: SolveParams) -> DaySolution:
    """Solve one day with the route solver, keeping the current order as the start."""
    seq = state.routes[day].seq
    inst = state.inst
    hint = {"rep": [inst.problem.accounts[state.visits[v].account].id for v in seq]}
    # A start from the current order helps on real days; on a day of one or two stops the
    # solver's search from an assignment runs to its time limit, so it starts from scratch.
    if len(seq) >= HINT_MIN_STOPS:
        params = replace(params, previous_order=hint)
    try:
        return solve(_day_problem(state, day, seq), params)
    except InfeasibleProblemError as exc:
        keys = [
            state.visits[v].appointment_id or inst.problem.accounts[state.visits[v].account].id
            for v in seq
            if state.visits[v].fixed_start is not None
        ]
        raise WeekPlanError(
            f"the appointments of {inst.days[day].date} ({', '.join(keys)}) cannot be kept "
            f"together: {exc}",
            field="appointments",
            code="INFEASIBLE",
        ) from exc


def _order_days(state: State, params: SolveParams) -> None:
    """Re-order every day with a quick route solve where the solver's order fits."""
    for day, route in enumerate(state.routes):
        if len(route.seq) < 3 or day in state.locked:
            continue
        sol = _solve_day(state, day, params)
        by_id = {state.inst.problem.accounts[state.visits[v].account].id: v for v in route.seq}
        order = [by_id[s.stop_id] for s in sol.routes["rep"].stops]
        if len(order) != len(route.seq):
            continue
        better = state.model.rebuild(day, order)
        if better is not None and better.drive <= route.drive:
            state.routes[day] = better


def _final_routes(
    state: State, params: SolveParams, previous: dict[dt.date, DayPlan]
) -> tuple[list[DayPlan], list[int]]:
    """Each day's route from the solver; visits it could not fit are returned."""
    inst = state.inst
    days: list[DayPlan] = []
    dropped: list[int] = []
    for day, route in enumerate(state.routes):
        wd = inst.days[day]
        ids = sorted(
            (
                inst.problem.accounts[state.visits[v].account].id,
                state.visits[v].appointment_id or "",
            )
            for v in route.seq
        )
        prev = previous.get(wd.date)
        if prev is not None and (
            day in state.locked
            or sorted((s.account_id, s.appointment_id or "") for s in prev.stops) == ids
        ):
            days.append(prev)
            continue
        if not route.seq:
            days.append(
                DayPlan(
                    wd.date,
                    (),
                    0,
                    0,
                    wd.shift_start,
                    wd.shift_start,
                    (),
                    wd.shift_start,
                    wd.shift_end,
                    wd.off,
                    wd.note,
                )
            )
            continue
        sol = _solve_day(state, day, params)
        r = sol.routes["rep"]
        by_id = {inst.problem.accounts[state.visits[v].account].id: v for v in route.seq}
        kept = {s.stop_id for s in r.stops}
        for sid, v in by_id.items():
            if sid not in kept:
                state.forget(v)
                dropped.append(v)
        stops = tuple(
            PlannedStop(
                s.stop_id, s.arrival, s.start, s.end, state.visits[by_id[s.stop_id]].appointment_id
            )
            for s in r.stops
        )
        days.append(
            DayPlan(
                wd.date,
                stops,
                r.drive_seconds,
                sum(s.end - s.start for s in r.stops),
                r.departure,
                r.end_arrival,
                tuple((b.start, b.duration) for b in r.breaks),
                wd.shift_start,
                wd.shift_end,
                wd.off,
                wd.note,
            )
        )
    return days, dropped


def _unscheduled(state: State, days: list[DayPlan], dropped: list[int]) -> list[Unscheduled]:
    inst = state.inst
    waiting = sorted(v for v in set(state.failed) | set(dropped) if not state.visits[v].optional)
    demand = sum(state.visits[v].duration for v in range(len(state.visits))) + sum(
        d.drive_s for d in days
    )
    capacity = sum(d.capacity_s for d in inst.days)
    out = [explain(state, v, demand, capacity) for v in waiting]
    out += [spacing_reason(state, a, due) for a, due, _why in state.no_day]
    out += _unreachable(state)
    out.sort(key=lambda u: (u.due, u.account_id))
    return out


def _unreachable(state: State) -> list[Unscheduled]:
    """Accounts off the road network whose cadence falls due in the horizon."""
    inst = state.inst
    out = []
    for account_id, _why in sorted(inst.unreachable.items()):
        a = inst.acc_index[account_id]
        v = state.spawn(a, inst.problem.accounts[a].last_visit, 1)
        if v is not None:
            out.append(explain(state, v, 0, 0))
    return out


def churn(previous: WeekPlan, plan: WeekPlan) -> Churn:
    """Visits moved, added and removed between two plans, and the days that changed."""
    before = previous.visit_days()
    after = plan.visit_days()
    moved = added = removed = 0
    for account in sorted(set(before) | set(after)):
        b, a = sorted(before.get(account, [])), sorted(after.get(account, []))
        same = len([d for d in a if d in b])
        changed = min(len(a), len(b)) - same
        moved += changed
        added += max(0, len(a) - len(b))
        removed += max(0, len(b) - len(a))
    prev = {d.date: [s.account_id for s in d.stops] for d in previous.days}
    changed_days = tuple(
        d.date for d in plan.days if prev.get(d.date) != [s.account_id for s in d.stops]
    )
    return Churn(moved, added, removed, changed_days)


__all__ = ["WeekParams", "churn", "plan_week", "plan_week_on", "replan_week"]
