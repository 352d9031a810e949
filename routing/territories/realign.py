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
from routing.territories._problem import Problem
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


def _noop(stage: str, fraction: float) -> None:
    del stage, fraction


def _in_band(prob: Problem, lo: float, hi: float) -> bool:
    load = prob.loads()[prob.active]
    return bool(((load >= lo - 1e-9) & (load <= hi + 1e-9)).all())


_BOUNDARY_FLOW_ABOVE = 20_000
"""Above this many accounts the realignment flow first runs on boundary accounts only."""


def _boundary_flow(prob: Problem, lo: FloatArray, hi: FloatArray) -> bool:
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
        return assign_by_flow(prob, lo, hi)
    finally:
        prob.fixed = saved


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
    workload hour, followed by chain repair; the move limits are then enforced by sending the
    least useful moves back.

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
            # Territories already inside the band may keep their load (no churn for them);
            # the others must reach a slightly narrower band so rounding rarely breaks it.
            flow_tol = 0.8 * tol
            now = prob.loads()
            f_lo = np.minimum(mean * (1 - flow_tol), np.maximum(now, lo))
            f_hi = np.maximum(mean * (1 + flow_tol), np.minimum(now, hi))
            if not _boundary_flow(prob, f_lo, f_hi) and not assign_by_flow(prob, f_lo, f_hi):
                assign_by_flow(prob, lo, hi)
            repair_balance(prob, lo, hi)
            improve(prob, lo, hi)
            moved, per = move_counts(prob)
            rep_cap = prm.max_moved_per_rep
            if moved.shape[0] <= cap and (rep_cap is None or (per <= rep_cap).all()):
                break
    report("potential", 0.7)
    pot = prob.potentials()[prob.active]
    potential_ok = bool(((pot >= plo) & (pot <= phi)).all()) if pmean > 0 else True
    if not potential_ok:
        potential_ok = balance_potential(prob, lo, hi, plo, phi)
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
