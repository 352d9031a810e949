"""Realignment: rebalance the active plan with as little churn as balance requires."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from routing.territories._finish import (
    build_assignment,
    centroids,
    raise_if_unbalanced,
    worst_deviation,
)
from routing.territories._flow import assign_by_flow
from routing.territories._inputs import to_arrays
from routing.territories._problem import Problem, nearest_territories
from routing.territories._repair import (
    balance_potential,
    improve,
    move_counts,
    repair_balance,
    revert_moves,
)
from routing.territories.errors import InfeasibleBalanceError
from routing.territories.model import (
    Assignment,
    Progress,
    RealignParams,
    TerritoryAccount,
    TerritoryRep,
)
from routing.territories.oracle import TravelTimeOracle

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


def _noop(stage: str, fraction: float) -> None:
    del stage, fraction


def _in_band(prob: Problem, lo: float, hi: float) -> bool:
    load = prob.loads()[prob.active]
    return bool(((load >= lo - 1e-9) & (load <= hi + 1e-9)).all())


_BOUNDARY_FLOW_ABOVE = 20_000
"""Above this many accounts the realignment flow first runs on boundary accounts only."""


def _boundary_flow(
    prob: Problem, lo: FloatArray, hi: FloatArray, extra: tuple[IntArray, IntArray]
) -> bool:
    """Flow over the accounts nearest a territory border; the interior stays put.

    With churn priced high, an account deep inside its territory never moves, so at large
    sizes the flow only needs the accounts whose next-best territory is nearly as close
    (the closest 30 % by that gap, plus new and orphaned accounts). Returns ``False`` when
    not applicable or infeasible, so the caller runs the full flow.
    """
    if prob.n <= _BOUNDARY_FLOW_ABOVE or prob.cand.shape[1] < 2:
        return False
    idx = np.arange(prob.n)
    here = prob.cost[prob.terr, idx]
    other = np.where(prob.cand[:, 0] == prob.terr, prob.cand[:, 1], prob.cand[:, 0])
    gap = prob.cost[other, idx] - here
    interior = (gap > np.quantile(gap, 0.3)) & (prob.orig == prob.terr)
    saved = prob.fixed
    prob.fixed = saved | interior
    try:
        return assign_by_flow(prob, lo, hi, extra)
    finally:
        prob.fixed = saved


_EDGE = 0.97
"""Territories outside the band are brought to ``mean * (1 ± _EDGE * tol)``: just inside,
so that no more workload moves than balance requires, with a little room for rounding."""

_JOIN_REACH = 3.0
"""A rep who joins may take from the accounts around their centre: at least this many
territories' worth of workload, and further (doubling) until the territories in reach have
1.5x the workload the newcomer needs to spare. Less makes neighbours refill each other
(churn 1.5x a territory's worth on a road instance where the newcomer lives among
territories at the low end of the band); unbounded takes a few accounts from everywhere
(a scattered territory)."""


def _join_reach(prob: Problem, t: int, load: FloatArray, lo: float) -> IntArray:
    """The accounts around territory ``t`` it may take from (see ``_JOIN_REACH``)."""
    order = np.argsort(prob.cost[t], kind="stable")
    cum = np.cumsum(prob.w[order])
    spare = np.where(prob.active, np.maximum(load - lo, 0.0), 0.0)
    spare[t] = 0.0
    need = 1.5 * max(lo - load[t], 0.0)
    mean = float(cum[-1]) / max(1, int(prob.active.sum()))
    mult = _JOIN_REACH
    while True:
        reach = min(int(np.searchsorted(cum, mult * mean)) + 1, order.shape[0])
        near = order[:reach]
        if reach >= order.shape[0] or spare[np.unique(prob.terr[near])].sum() >= need:
            return near[~prob.fixed[near]]
        mult *= 2.0


def _wide_arcs(
    prob: Problem, orphan: BoolArray, mean: float, tol: float, k: int
) -> tuple[IntArray, IntArray]:
    """Extra flow arcs that shorten cascades, as ``(accounts, territories)``.

    Orphaned accounts (their rep left) move anyway: they may reach their ``4k`` nearest
    territories, a ring further out, rather than push settled accounts along. A territory
    that starts (nearly) empty, a rep who joins, may take from every account around its
    centre (see ``_JOIN_REACH``), so that each neighbour gives a little instead of one giving
    a lot and being refilled from behind.
    """
    wide_k = min(prob.p, max(4 * k, 40))
    free = np.flatnonzero(orphan & ~prob.fixed)
    far = nearest_territories(prob.cost, prob.active, wide_k, free)
    acc = [np.repeat(free, far.shape[1])]
    ter = [far.ravel()]
    load = prob.loads()
    for t in np.flatnonzero(prob.active & (load < 0.5 * mean)).tolist():
        near = _join_reach(prob, t, load, mean * (1 - _EDGE * tol))
        acc.append(near)
        ter.append(np.full(near.shape[0], t, dtype=np.int64))
    return np.concatenate(acc), np.concatenate(ter)


def _rebalance(prob: Problem, orphan: BoolArray, mean: float, tol: float, k: int) -> bool:
    """Flow with churn prices, then a short repair; wider arcs when that is not enough.

    Territories already inside ``mean * (1 ± tol)`` may keep their load (no churn for them);
    the others must reach ``±_EDGE * tol``, just inside; the repair then moves only what
    rounding the few split accounts left outside, to just inside.
    Returns whether every active territory ended inside the band.
    """
    lo, hi = mean * (1 - tol), mean * (1 + tol)
    now = prob.loads()
    inside = (now >= lo) & (now <= hi)
    f_lo = np.where(inside, np.minimum(now, mean * (1 - _EDGE * tol)), mean * (1 - _EDGE * tol))
    f_hi = np.where(inside, np.maximum(now, mean * (1 + _EDGE * tol)), mean * (1 + _EDGE * tol))
    start = prob.terr.copy()
    extra = _wide_arcs(prob, orphan, mean, tol, k)
    for kk in sorted({min(x, prob.p) for x in (k, 2 * k, prob.p)}):
        if kk != prob.cand.shape[1]:
            prob.refresh_candidates(kk)
        prob.terr[:] = start
        # An infeasible flow leaves ``start``; the repair then works from there.
        _ = (
            (kk == k and _boundary_flow(prob, f_lo, f_hi, extra))
            or assign_by_flow(prob, f_lo, f_hi, extra)
            or assign_by_flow(prob, lo, hi, extra)
        )
        if repair_balance(prob, lo, hi, overshoot=0.1):
            break
    if prob.cand.shape[1] != k:
        prob.refresh_candidates(k)
    return _in_band(prob, lo, hi)


def realign_territories(
    accounts: Sequence[TerritoryAccount],
    reps: Sequence[TerritoryRep],
    current: Mapping[str, str],
    oracle: TravelTimeOracle,
    params: RealignParams | None = None,
    progress: Progress | None = None,
) -> Assignment:
    """Rebalance the current plan after events, moving as few accounts as balance requires.

    Events are read from the difference between ``current`` and the inputs: accounts not in
    ``current`` are new, accounts of ``current`` missing from ``accounts`` were removed,
    changed workloads are simply the new values, a rep in ``current`` but not in ``reps``
    left (their accounts are orphaned), a rep in ``reps`` with no accounts joined.

    New and orphaned accounts first go to the nearest territory. If every territory is then
    inside the tolerance, nothing else moves. Otherwise the design flow model runs with every
    arc away from an account's current rep charged ``move_penalty_seconds * move_cost`` per
    workload hour; territories already inside the band may keep their load and the others
    are brought just inside it. Orphaned accounts may reach a ring of territories further
    out, and a rep who joins may take from the accounts around them until their neighbours
    can spare enough, so that settled accounts are not pushed along in a cascade. A short
    chain repair fixes what rounding left outside the band, potential is balanced cheapest
    swap first (orphans before settled accounts), and the move limits are then enforced by
    sending the least useful moves back.

    Args:
        accounts: All accounts after the events.
        reps: All reps after the events (new reps included, leaving reps removed).
        current: The active plan, ``account_id -> rep_id``.
        oracle: Travel times.
        params: Tolerances, move limits and the churn price.
        progress: Optional ``(stage, fraction)`` callback.

    Returns:
        The new plan; ``moved`` lists accounts whose rep changed (orphans included).

    Raises:
        InfeasibleBalanceError: The tolerance cannot be met (within the move limits); the
            closest plan respects the move limits.
        InvalidTerritoryInputError, MissingHomeError, AccountOffNetworkError: Bad input.
    """
    prm = params or RealignParams()
    report = progress or _noop
    arr = to_arrays(accounts, reps, oracle)
    n, p = arr.w.shape[0], len(arr.rep_ids)
    index = {r: i for i, r in enumerate(arr.rep_ids)}
    had = np.array([a in current for a in arr.ids], dtype=bool)
    orig = np.array([index.get(current.get(a, ""), -1) for a in arr.ids], dtype=np.int64)
    orphan = had & (orig < 0)
    in_locked = (orig >= 0) & arr.rep_locked[np.maximum(orig, 0)]
    fixed = (arr.locked_to >= 0) | in_locked
    terr = np.where(arr.locked_to >= 0, arr.locked_to, orig)
    report("centres", 0.0)
    c_lat, c_lon = centroids(arr, np.where(terr >= 0, terr, p), p + 1)
    prob = Problem(
        w=arr.w,
        pot=arr.pot,
        cost=oracle.seconds(c_lat, c_lon, arr.lat, arr.lon),
        active=~arr.rep_locked,
        fixed=fixed,
        orig=orig,
        pen=prm.move_penalty_seconds * arr.move_cost,
        cand=np.zeros((n, 1), dtype=np.int64),
        terr=terr.astype(np.int64),
    )
    prob.refresh_candidates(prm.k_nearest)
    todo = prob.terr < 0
    prob.terr[todo] = prob.cand[todo, 0]
    mean = prob.mean_load()
    tol = prm.tolerance
    lo, hi = mean * (1 - tol), mean * (1 + tol)
    pmean = prob.mean_potential()
    plo, phi = pmean * (1 - prm.potential_tolerance), pmean * (1 + prm.potential_tolerance)
    notes: list[str] = []
    eligible = int((orig >= 0).sum())
    cap = math.floor(prm.max_moved_share * eligible + 1e-9)
    if not _in_band(prob, lo, hi):
        start = prob.terr.copy()
        for factor in (1.0, 10.0):
            report("rebalance", 0.2 if factor == 1.0 else 0.5)
            prob.terr[:] = start
            prob.pen = factor * prm.move_penalty_seconds * arr.move_cost
            _rebalance(prob, orphan, mean, tol, prm.k_nearest)
            improve(prob, lo, hi)
            moved, per = move_counts(prob)
            rep_cap = prm.max_moved_per_rep
            if moved.shape[0] <= cap and (rep_cap is None or (per <= rep_cap).all()):
                break
    report("potential", 0.7)
    pot = prob.potentials()[prob.active]
    potential_ok = bool(((pot >= plo) & (pot <= phi)).all()) if pmean > 0 else True
    if not potential_ok:
        potential_ok = balance_potential(prob, lo, hi, plo, phi, cheap_first=True)
        if not potential_ok:
            notes.append(
                f"potential could not be brought within ±{prm.potential_tolerance:.0%} "
                "for every territory"
            )
    report("limits", 0.85)
    limits_ok = revert_moves(prob, lo, hi, cap, prm.max_moved_per_rep, keep_balance=True)
    balanced = _in_band(prob, lo, hi)
    if not limits_ok or not balanced:
        # Closest plan that respects the move limits, even at the price of balance.
        revert_moves(prob, lo, hi, cap, prm.max_moved_per_rep, keep_balance=False)
        moved_idx = np.flatnonzero(((orig >= 0) & (prob.terr != orig)) | orphan)
        plan = build_assignment(arr, prob, oracle, moved_idx, potential_ok, notes)
        t, dev = worst_deviation(prob)
        if abs(dev) > tol + 1e-9:
            raise InfeasibleBalanceError(
                arr.rep_ids[t], dev, plan, f"within {cap} moves and the per-rep move limit"
            )
        return plan
    moved_idx = np.flatnonzero(((orig >= 0) & (prob.terr != orig)) | orphan)
    report("kpis", 0.95)
    plan = build_assignment(arr, prob, oracle, moved_idx, potential_ok, notes)
    raise_if_unbalanced(arr, prob, tol, plan)
    report("done", 1.0)
    return plan


__all__ = ["realign_territories"]
