"""Moves of visits between days: relocate one visit, or swap two, while the objective drops.

Each move is priced on both days' routes with :class:`routing.week.routes.RouteModel`
(removal and cheapest exact insertion), with the lateness, balance and churn terms of
:mod:`routing.week.state`. Swap partners are the visit's nearest neighbours by drive time on
other days, which is where swaps pay. Passes repeat until no move improves or the work limit
is reached, so the result is deterministic.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from routing.week.routes import DayRoute
from routing.week.state import State

NEIGHBOURS = 15
EPS = 1.0


def neighbours(state: State) -> npt.NDArray[np.int64]:
    """Per account, the accounts nearest by round-trip drive time (itself excluded)."""
    locs = np.asarray(state.inst.acc_loc, dtype=np.int64)
    if len(locs) < 2:
        return np.zeros((len(locs), 0), dtype=np.int64)
    sub = state.inst.seconds[np.ix_(locs, locs)]
    both = (sub + sub.T).astype(np.float64)
    np.fill_diagonal(both, np.inf)
    k = min(NEIGHBOURS, len(locs) - 1)
    near: npt.NDArray[np.int64] = np.argsort(both, axis=1, kind="stable")[:, :k]
    return near


def _movable(state: State, v: int) -> bool:
    day = state.day_of.get(v)
    return state.visits[v].fixed_day is None and day is not None and day not in state.frozen


def relocate_pass(state: State) -> int:
    """Move single visits to a better day; return how many moved."""
    moved = 0
    for v in sorted(state.day_of):
        if not _movable(state, v):
            continue
        a = state.day_of[v]
        ra = state.routes[a]
        without = state.model.remove(ra, v)
        gain = state.day_cost(ra) - state.day_cost(without) + state.placement(v, a)
        best: tuple[float, DayRoute] | None = None
        loc = np.asarray([state.model.loc(v)], dtype=np.int64)
        # Drive delta + placement bound a day's cost from below (balance only adds), so days
        # are tried cheapest bound first and the exact check stops once no bound can win.
        # A day whose finish would pass its shift end is skipped without the exact check (a
        # visit could in rare cases fill waiting time instead; construction judges the same).
        dur = state.visits[v].duration
        bounds = []
        for b in range(len(state.routes)):
            if b == a or not state.allowed(v, b):
                continue
            delta = float(state.model.deltas(state.routes[b], loc)[0])
            if state.routes[b].finish + delta + dur <= state.inst.days[b].shift_end:
                bounds.append((delta + state.placement(v, b), b))
        bounds.sort()
        for bound, b in bounds:
            if bound >= gain - EPS or (best is not None and bound >= best[0]):
                break
            fit = state.model.insert(state.routes[b], v)
            if fit is None:
                continue
            cost = state.day_cost(fit[1]) - state.day_cost(state.routes[b]) + state.placement(v, b)
            if cost < gain - EPS and (best is None or cost < best[0]):
                best = (cost, fit[1])
        if best is not None:
            state.forget(v)
            state.routes[a] = without
            state.place(v, best[1])
            moved += 1
    return moved


def swap_pass(state: State, near: npt.NDArray[np.int64]) -> int:
    """Exchange the days of two nearby visits when that helps; return how many swaps."""
    swaps = 0
    for v in sorted(state.day_of):
        if not _movable(state, v):
            continue
        acc = state.visits[v].account
        for other_acc in near[acc] if len(near) else ():
            for w in sorted(state.of_account.get(int(other_acc), ())):
                if not _movable(state, v) or not _movable(state, w):
                    continue
                if _try_swap(state, v, w):
                    swaps += 1
    return swaps


def _try_swap(state: State, v: int, w: int) -> bool:
    a, b = state.day_of[v], state.day_of[w]
    if a == b:
        return False
    ra, rb = state.routes[a], state.routes[b]
    before = state.day_cost(ra) + state.day_cost(rb) + state.placement(v, a) + state.placement(w, b)
    state.forget(v)
    state.forget(w)
    ok = state.allowed(v, b) and state.allowed(w, a)
    if ok:
        fa = state.model.insert(state.model.remove(ra, v), w)
        fb = state.model.insert(state.model.remove(rb, w), v)
        if fa is not None and fb is not None:
            after = (
                state.day_cost(fa[1])
                + state.day_cost(fb[1])
                + state.placement(v, b)
                + state.placement(w, a)
            )
            if after < before - EPS:
                state.place(w, fa[1])
                state.place(v, fb[1])
                return True
    state.place(v, ra)
    state.place(w, rb)
    return False


def improve(state: State, max_passes: int = 4) -> int:
    """Relocate and swap passes until none helps (at most ``max_passes``); total moves."""
    near = neighbours(state)
    total = 0
    for _ in range(max_passes):
        moves = relocate_pass(state) + swap_pass(state, near)
        total += moves
        if not moves:
            break
    return total


__all__ = ["improve", "neighbours", "relocate_pass", "swap_pass"]
