"""Visits pulled forward: accounts not due inside the horizon, added where the rep passes by.

Once every due visit has its day, the days have room left. An account whose spacing already
allows a visit (``share`` of its cadence has passed) but whose due date lies after the
horizon is visited now when it lies on the way: its cheapest insertion adds less than
``Weights.fill_detour_s * (0.5 + priority / 100)`` seconds of driving and keeps the day inside
its shift. Cheapest first, lightest days first on ties, so the days also even out. This is
what a rep does "while in the area", and it lowers next week's load.
"""

from __future__ import annotations

import numpy as np

from routing.week.due import next_window
from routing.week.state import State


def candidates(state: State) -> list[int]:
    """Optional visits for accounts with no visit in the horizon whose spacing allows one."""
    inst = state.inst
    end = inst.days[-1].date
    out: list[int] = []
    for a, acc in enumerate(inst.problem.accounts):
        if acc.id in inst.unreachable or state.of_account.get(a) or a in state.fixed_dates:
            continue
        if any(state.visits[v].account == a for v in state.failed):
            continue
        window = next_window(acc.last_visit, acc.cadence_days, inst.problem.spacing_share)
        if window.due <= end or window.earliest > end:
            continue
        first = next(i for i, d in enumerate(inst.days) if d.date >= window.earliest)
        out.append(
            state.add_visit(
                account=a,
                number=1,
                earliest=first,
                latest=len(inst.days) - 1,
                due_date_ordinal=window.due.toordinal(),
                duration=acc.visit_min * 60,
                optional=True,
            )
        )
    return out


def fill(state: State) -> int:
    """Add optional visits cheapest first; return how many were added."""
    pool = candidates(state)
    accounts = state.inst.problem.accounts
    added = 0
    while pool:
        best: tuple[float, int, int] | None = None
        for v in pool:
            acc = accounts[state.visits[v].account]
            limit = state.weights.fill_detour_s * (0.5 + max(0.0, acc.priority) / 100)
            loc = np.asarray([state.model.loc(v)], dtype=np.int64)
            for d, route in enumerate(state.routes):
                if not route.seq or not state.allowed(v, d):
                    continue  # an empty day is not "on the way"
                delta = float(state.model.deltas(route, loc)[0])
                if delta > limit:
                    continue
                key = delta + state.balance(route) * 0.01
                if best is None or key < best[0]:
                    best = (key, v, d)
        if best is None:
            break
        _, v, d = best
        fit = state.model.insert(state.routes[d], v)
        pool.remove(v)
        if fit is None:
            continue
        state.place(v, fit[1])
        added += 1
    return added


__all__ = ["candidates", "fill"]
