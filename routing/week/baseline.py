"""The daily baseline: each day planned on its own, the way the backend's day planner does.

Every morning the day planner takes the rep's highest-scored accounts (25 by default, by the
backend's priority score, wherever they lie), adds that day's appointments as must-visits, and
lets the route solver choose and order the visits by their drop penalties. Visits made update
the last-visit dates, so the next day's scores see them. This is what the week planner is
compared with (same book, same days, same start point).

The score is injected (``score``), so :mod:`routing` stays free of :mod:`backend`: the CLI and
the benchmark pass the backend's own :func:`backend.services.priority.score_accounts`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from routing.vrp import Break, DayProblem, SolveParams, Stop, TimeWindow, Vehicle, solve
from routing.week.instance import compile_problem
from routing.week.matrix import WeekMatrix
from routing.week.model import Account, DayPlan, PlannedStop, WeekPlan, WeekProblem

Scorer = Callable[
    [Sequence[Account], Mapping[str, dt.date | None], dt.date], dict[str, tuple[float, int]]
]
"""``(accounts, last visit per id, day) -> {id: (score, drop penalty)}``."""

DEFAULT_MAX_CANDIDATES = 25


def plan_daily_baseline(
    problem: WeekProblem,
    matrix: WeekMatrix,
    score: Scorer,
    *,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
    params: SolveParams | None = None,
) -> WeekPlan:
    """Plan each day of the horizon on its own with the day planner's rules.

    Args:
        problem: As for :func:`routing.week.plan_week`.
        matrix: Same matrix.
        score: The day planner's score and drop penalty.
        max_candidates: Candidates per day (the day planner's default is 25).
        params: Route solver limits (default: the day planner's "thorough" effort).
    """
    t0 = time.perf_counter()
    params = params or SolveParams(time_limit_s=10.0)
    inst = compile_problem(problem, matrix)
    last: dict[str, dt.date | None] = {a.id: a.last_visit for a in problem.accounts}
    days: list[DayPlan] = []
    for d, wd in enumerate(inst.days):
        if wd.off:
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
                    True,
                    wd.note,
                )
            )
            continue
        fixed = {problem.accounts[a].id: ap for a, ap in inst.appointments[d]}
        scores = score(problem.accounts, last, wd.date)
        ranked = sorted(
            (a for a in problem.accounts if a.id not in fixed and a.id not in inst.unreachable),
            key=lambda a: (-scores[a.id][0], a.id),
        )
        chosen = [problem.accounts[inst.acc_index[i]] for i in fixed] + ranked[
            : max(0, max_candidates - len(fixed))
        ]
        locs = [inst.day_start[d], inst.day_end[d]] + [
            inst.acc_loc[inst.acc_index[a.id]] for a in chosen
        ]
        stops = []
        for k, a in enumerate(chosen, start=2):
            ai = inst.acc_index[a.id]
            ap = fixed.get(a.id)
            if ap is not None:
                s = ap.start.hour * 3600 + ap.start.minute * 60
                windows = [TimeWindow(s, s + ap.duration_min * 60)]
                duration = ap.duration_min * 60
            else:
                windows = [TimeWindow(lo, hi) for lo, hi in inst.windows[ai][d]]
                duration = a.visit_min * 60
            stops.append(
                Stop(
                    a.id,
                    k,
                    duration,
                    windows,
                    required=ap is not None,
                    penalty=scores[a.id][1],
                    hours_known=inst.hours_known[ai],
                )
            )
        vehicle = Vehicle(
            "rep", 0, 1, wd.shift_start, wd.shift_end, [Break(lo, hi, n) for lo, hi, n in wd.breaks]
        )
        sol = solve(
            DayProblem(
                inst.seconds[np.ix_(locs, locs)], inst.metres[np.ix_(locs, locs)], [vehicle], stops
            ),
            params,
        )
        r = sol.routes["rep"]
        for done in r.stops:
            last[done.stop_id] = wd.date
        days.append(
            DayPlan(
                wd.date,
                tuple(
                    PlannedStop(
                        s.stop_id,
                        s.arrival,
                        s.start,
                        s.end,
                        fixed[s.stop_id].key if s.stop_id in fixed else None,
                    )
                    for s in r.stops
                ),
                r.drive_seconds,
                sum(s.end - s.start for s in r.stops),
                r.departure,
                r.end_arrival,
                tuple((b.start, b.duration) for b in r.breaks),
                wd.shift_start,
                wd.shift_end,
                False,
                wd.note,
            )
        )
    return WeekPlan(
        inst.days[0].date,
        tuple(days),
        (),
        (f"daily baseline: each day's {max_candidates} highest-scored accounts, planned alone",),
        None,
        {"seconds": round(time.perf_counter() - t0, 3)},
    )


__all__ = ["DEFAULT_MAX_CANDIDATES", "Scorer", "plan_daily_baseline"]
