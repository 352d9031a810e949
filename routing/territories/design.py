"""Territory design from scratch: balanced seeds, flow-based location-allocation, repair."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from routing.territories._finish import build_assignment, centroids, raise_if_unbalanced
from routing.territories._flow import assign_by_flow, assign_by_prices
from routing.territories._geo import project, unproject
from routing.territories._inputs import Arrays, to_arrays
from routing.territories._problem import Problem
from routing.territories._repair import balance_potential, improve, repair_balance
from routing.territories._seeding import bisect, match_homes, weighted_centroids
from routing.territories.errors import InvalidTerritoryInputError
from routing.territories.model import (
    Assignment,
    DesignParams,
    Progress,
    TerritoryAccount,
    TerritoryRep,
)
from routing.territories.oracle import TravelTimeOracle

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def _noop(stage: str, fraction: float) -> None:
    del stage, fraction


_PRICE_ROUNDS_ABOVE = 5000
"""Above this many accounts, intermediate rounds use price-based assignment (the exact flow
takes seconds per solve at 100k accounts); the final round is always the exact flow."""


def _flow_with_fallbacks(
    prob: Problem, k: int, aim: tuple[float, float], hard: tuple[float, float]
) -> bool:
    """Flow at the aim band, then with more arcs, then all arcs at the hard band.

    When even that is infeasible every free account goes to its nearest centre and the
    repair pass (or the final check) decides. Returns whether some flow was feasible.
    """
    for kk, (a_lo, a_hi) in ((k, aim), (2 * k, aim), (prob.p, hard)):
        if kk != prob.cand.shape[1]:
            prob.refresh_candidates(kk)
        if assign_by_flow(prob, a_lo, a_hi):
            if prob.cand.shape[1] != k:
                prob.refresh_candidates(k)
            return True
    prob.refresh_candidates(k)
    free = ~prob.fixed
    prob.terr[free] = prob.cand[free, 0]
    return False


def _seed(arr: Arrays, oracle: TravelTimeOracle, act: IntArray) -> tuple[FloatArray, FloatArray]:
    """Starting centre (lat, lon) per rep: bisection blocks matched to homes (and locks)."""
    c_lat, c_lon = arr.home_lat.copy(), arr.home_lon.copy()
    in_active = (arr.locked_to < 0) | ~arr.rep_locked[np.maximum(arr.locked_to, 0)]
    idx = np.flatnonzero(in_active)
    lat0 = float(np.mean(arr.lat))
    xy = project(arr.lat[idx], arr.lon[idx], lat0)
    labels = bisect(xy, arr.w[idx], act.shape[0])
    cen = weighted_centroids(xy, arr.w[idx], labels, act.shape[0])
    g_lat, g_lon = unproject(cen, lat0)
    match = oracle.seconds(arr.home_lat[act], arr.home_lon[act], g_lat, g_lon).astype(np.float64)
    locked = np.flatnonzero(arr.locked_to >= 0)
    if locked.shape[0]:
        pos = {int(r): k for k, r in enumerate(act)}
        to_locked = oracle.seconds(g_lat, g_lon, arr.lat[locked], arr.lon[locked])
        for col, i in enumerate(locked):
            k = pos.get(int(arr.locked_to[i]))
            if k is not None:  # pull a rep towards the block holding their locked accounts
                match[k] += to_locked[:, col]
    perm = match_homes(match)
    c_lat[act] = g_lat[perm]
    c_lon[act] = g_lon[perm]
    return c_lat, c_lon


def design_territories(
    accounts: Sequence[TerritoryAccount],
    reps: Sequence[TerritoryRep],
    oracle: TravelTimeOracle,
    params: DesignParams | None = None,
    progress: Progress | None = None,
) -> Assignment:
    """Assign every account to a rep so workloads balance and territories stay compact.

    Steps: recursive bisection on workload gives balanced blocks, matched to homes; then
    location-allocation rounds, each a min-cost flow over the ``k`` nearest centres with
    workload bounds at the aim tolerance; then chain repair to the band, single-account
    improvement, and potential swaps. Locked accounts stay with their rep; a locked rep keeps
    exactly the accounts locked to them and is left out of the balance.

    Args:
        accounts: Accounts with workload and potential.
        reps: Reps with home bases.
        oracle: Travel times (straight line or road network).
        params: Tolerances and solver settings.
        progress: Optional ``(stage, fraction)`` callback.

    Returns:
        The assignment with KPIs.

    Raises:
        InvalidTerritoryInputError: Fewer accounts than reps, duplicate ids, unknown locks.
        MissingHomeError: A rep without home base.
        AccountOffNetworkError: An account or home the oracle cannot reach.
        InfeasibleBalanceError: No plan within ``tolerance`` was found; carries the territory,
            its deviation and the closest plan.

    Example:
        >>> plan = design_territories(accounts, reps, StraightLineOracle())  # doctest: +SKIP
        >>> plan.kpis.workload_max_deviation <= 0.05  # doctest: +SKIP
        True
    """
    prm = params or DesignParams()
    report = progress or _noop
    arr = to_arrays(accounts, reps, oracle)
    p = len(arr.rep_ids)
    act = np.flatnonzero(~arr.rep_locked)
    if act.shape[0] == 0 and (arr.locked_to < 0).any():
        raise InvalidTerritoryInputError(
            "all_reps_locked", "every rep is locked but some accounts are not locked to one"
        )
    report("seeding", 0.0)
    c_lat, c_lon = _seed(arr, oracle, act) if act.shape[0] else (arr.home_lat, arr.home_lon)
    if prm.anchor == "home":
        c_lat, c_lon = arr.home_lat.copy(), arr.home_lon.copy()
    terr0 = np.where(arr.locked_to >= 0, arr.locked_to, act[0] if act.shape[0] else 0)
    prob = Problem(
        w=arr.w,
        pot=arr.pot,
        cost=oracle.seconds(c_lat, c_lon, arr.lat, arr.lon),
        active=~arr.rep_locked,
        fixed=arr.locked_to >= 0,
        orig=np.full(arr.w.shape[0], -1, dtype=np.int64),
        pen=np.zeros(arr.w.shape[0]),
        cand=np.zeros((arr.w.shape[0], 1), dtype=np.int64),
        terr=terr0.astype(np.int64),
    )
    if act.shape[0] == 0:
        return build_assignment(arr, prob, oracle)
    mean = prob.mean_load()
    tol, aim = prm.tolerance, prm.aim()
    lo_aim, hi_aim = mean * (1 - aim), mean * (1 + aim)
    lo, hi = mean * (1 - tol), mean * (1 + tol)
    rounds = 1 if prm.anchor == "home" else max(1, prm.max_iterations)
    flowed = False
    prices = np.zeros(p)
    big = arr.w.shape[0] > _PRICE_ROUNDS_ABOVE
    it = 0
    while True:
        report("location-allocation", min(it / rounds, 1.0))
        if it:
            prob.cost = oracle.seconds(c_lat, c_lon, arr.lat, arr.lon)
        prob.refresh_candidates(prm.k_nearest)
        before = prob.terr.copy()
        last = it >= rounds - 1
        if big and not last:
            prices = assign_by_prices(prob, lo_aim, hi_aim, prices)
        else:
            flowed = _flow_with_fallbacks(prob, prm.k_nearest, (lo_aim, hi_aim), (lo, hi)) or flowed
        changed = int((prob.terr != before).sum())
        if last:
            break
        if it > 0 and changed <= max(1, arr.w.shape[0] // 1000):
            if not big:
                break  # the exact flow has settled: nothing left to gain
            rounds = it + 2  # one last, exact round with the settled centres
        n_lat, n_lon = centroids(arr, prob.terr, p)
        keep = arr.rep_locked
        n_lat[keep], n_lon[keep] = c_lat[keep], c_lon[keep]
        c_lat, c_lon = n_lat, n_lon
        it += 1
    report("repair", 0.8)
    notes: list[str] = []
    balanced = repair_balance(prob, lo_aim, hi_aim)
    band = (lo_aim, hi_aim) if balanced else (lo, hi)
    if not balanced:
        balanced = repair_balance(prob, lo, hi)
        if balanced:
            notes.append(f"workload within ±{tol:.1%} but not within the aim ±{aim:.1%}")
    report("improve", 0.9)
    improve(prob, *band)
    pmean = prob.mean_potential()
    ptol = prm.potential_tolerance
    potential_ok = True
    if pmean > 0:
        potential_ok = balance_potential(prob, *band, pmean * (1 - ptol), pmean * (1 + ptol))
        if not potential_ok:
            potential_ok = balance_potential(prob, lo, hi, pmean * (1 - ptol), pmean * (1 + ptol))
        if not potential_ok:
            notes.append(f"potential could not be brought within ±{ptol:.0%} for every territory")
    report("kpis", 0.95)
    plan = build_assignment(arr, prob, oracle, potential_ok=potential_ok, notes=notes)
    raise_if_unbalanced(
        arr, prob, tol, plan, "" if flowed else "even the fractional flow model is infeasible"
    )
    report("done", 1.0)
    return plan


__all__ = ["design_territories"]
