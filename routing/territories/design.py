"""Territory design from scratch: balanced seeds, flow-based location-allocation, repair."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from routing.territories._finish import build_assignment, centroids, raise_if_unbalanced
from routing.territories._flow import assign_by_flow, assign_by_prices
from routing.territories._geo import project, unproject
from routing.territories._inputs import Arrays, to_arrays
from routing.territories._polish import polish
from routing.territories._problem import Problem
from routing.territories._repair import balance_potential, repair_balance
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
BoolArray = NDArray[np.bool_]


def _noop(stage: str, fraction: float) -> None:
    del stage, fraction


_PRICE_ROUNDS_ABOVE = 5000
"""Above this many accounts, intermediate rounds use price-based assignment (the exact flow
takes seconds per solve at 100k accounts); the final round is always the exact flow."""

_MIN_GAIN = 0.002
_PATIENCE = 1
"""Location-allocation stops once ``_PATIENCE`` round(s) in a row made the plan less than
``_MIN_GAIN`` (relative) more compact than the best so far."""

_MULTI_START_UP_TO = 20_000
"""Up to this many accounts the design runs location-allocation from three differently
turned bisection seeds and keeps the most compact plan (it lands in a different local
optimum from each; the best of three is 1-3 % more compact on clustered data)."""

_MORE_STARTS_UP_TO = 2000
_MORE_STARTS = 5
"""Up to ``_MORE_STARTS_UP_TO`` accounts, ``_MORE_STARTS`` starts instead of three: a start
takes about 60 ms at 1,000 accounts, and with ~100 accounts per territory the finished
plans differ more (seeds 0-9 at 1k/10: worst start 1.16-1.20x weighted k-means, best
1.05-1.16x), so the extra starts pay there."""

_OVERSHOOT = 0.5
"""How far past the aim bound the repair pushes a territory (share of the half band)."""

_SETTLED_SHARE = 0.6
"""In the final round at that size, this share of accounts (those whose best territory at
the final prices beats the next one by the widest margin) keeps its price assignment and the
exact flow decides the rest: at 100k accounts a quarter of the solve time, same plan quality
(an account that far from every border is not split by the exact flow either)."""


def _settled(prob: Problem, prices: FloatArray) -> BoolArray:
    """Accounts that are clearly in their territory at the given prices (see
    ``_SETTLED_SHARE``)."""
    rows = np.arange(prob.n)
    red = prob.cost[prob.cand, rows[:, None]].astype(np.float64) - prices[prob.cand]
    red = np.where(prob.active[prob.cand], red, np.inf)
    part = np.partition(red, 1, axis=1)
    gap = part[:, 1] - part[:, 0]
    best = prob.cand[rows, np.argmin(red, axis=1)]
    settled: BoolArray = (gap > np.quantile(gap, 1.0 - _SETTLED_SHARE)) & (prob.terr == best)
    return settled & ~prob.fixed


def _final_flow(
    prob: Problem, k: int, aim: tuple[float, float], hard: tuple[float, float], prices: FloatArray
) -> bool:
    """The last exact flow at large sizes: the unsettled accounts only, the full model if
    that is infeasible."""
    settled = _settled(prob, prices)
    saved = prob.fixed
    prob.fixed = saved | settled
    try:
        ok = assign_by_flow(prob, *aim)
    finally:
        prob.fixed = saved
    return ok or _flow_with_fallbacks(prob, k, aim, hard)


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


def _start_angles(prm: DesignParams, n: int) -> list[float]:
    """Orientations of the bisection seeds to start location-allocation from."""
    default = 3 if n <= _MULTI_START_UP_TO else 1
    starts = prm.starts if prm.starts is not None else default
    if prm.starts is None and n <= _MORE_STARTS_UP_TO:
        starts = _MORE_STARTS
    if prm.anchor == "home":
        starts = 1
    return [np.pi / 2 * s / max(starts, 1) for s in range(max(starts, 1))]


def _seed(
    arr: Arrays, oracle: TravelTimeOracle, act: IntArray, angle: float = 0.0
) -> tuple[FloatArray, FloatArray]:
    """Starting centre (lat, lon) per rep: bisection blocks matched to homes (and locks).

    ``angle`` turns the plane before cutting, so that different angles give different,
    equally balanced starts (the first cut runs along the longer side of the turned box).
    """
    c_lat, c_lon = arr.home_lat.copy(), arr.home_lon.copy()
    in_active = (arr.locked_to < 0) | ~arr.rep_locked[np.maximum(arr.locked_to, 0)]
    idx = np.flatnonzero(in_active)
    lat0 = float(np.mean(arr.lat))
    xy = project(arr.lat[idx], arr.lon[idx], lat0)
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    labels = bisect(xy @ turn, arr.w[idx], act.shape[0])
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


@dataclass(slots=True)
class _Best:
    """The most compact balanced plan seen so far and the centres it was scored from."""

    disp: float
    terr: IntArray
    c_lat: FloatArray
    c_lon: FloatArray


def _in_band(prob: Problem, band: tuple[float, float]) -> bool:
    load = prob.loads()[prob.active]
    return bool(((load >= band[0] - 1e-9) & (load <= band[1] + 1e-9)).all())


def _location_allocation(
    arr: Arrays,
    oracle: TravelTimeOracle,
    prob: Problem,
    prm: DesignParams,
    centres: tuple[FloatArray, FloatArray],
    bands: tuple[tuple[float, float], tuple[float, float]],
    report: Progress,
) -> bool:
    """Alternate balanced assignment and centroid updates; leave the best plan in ``prob``.

    Moving centres to the workload-weighted centroids does not always lower dispersion
    (the assignment minimises distance to the old centres, and on clustered data a centre
    can be pulled out of a town by its rural tail), so every round's plan is scored from its
    own centroids, as the KPIs measure it, and the most compact one within the hard band is
    kept (at large sizes the final exact round starts from the best centres).

    Returns:
        Whether some flow model was feasible.
    """
    aim, hard = bands
    c_lat, c_lon = centres
    p, k = prob.p, prm.k_nearest
    rounds = 1 if prm.anchor == "home" else max(1, prm.max_iterations)
    big = prob.n > _PRICE_ROUNDS_ABOVE
    flowed = False
    prices = np.zeros(p)
    best: _Best | None = None
    stale = 0  # scored rounds since the best plan last improved by _MIN_GAIN
    it = 0
    while True:
        report("location-allocation", min(it / rounds, 1.0))
        last = it >= rounds - 1
        if it:
            prob.cost = oracle.seconds(c_lat, c_lon, arr.lat, arr.lon)
            # prob.terr is the previous round's plan, c its centroids: score it.
            disp = prob.dispersion() if _in_band(prob, hard) else np.inf
            gained = best is None or disp < best.disp * (1 - _MIN_GAIN)
            stale = 0 if gained else stale + 1
            if np.isfinite(disp) and (best is None or disp < best.disp):
                best = _Best(disp, prob.terr.copy(), c_lat.copy(), c_lon.copy())
            if big and last and best is not None and not np.array_equal(best.terr, prob.terr):
                c_lat, c_lon = best.c_lat, best.c_lon  # the exact round starts from the best
                prob.terr[:] = best.terr
                prob.cost = oracle.seconds(c_lat, c_lon, arr.lat, arr.lon)
        prob.refresh_candidates(k)
        before = prob.terr.copy()
        if big:
            prices = assign_by_prices(prob, *aim, prices)
            if last:
                flowed = _final_flow(prob, k, aim, hard, prices) or flowed
        else:
            flowed = _flow_with_fallbacks(prob, k, aim, hard) or flowed
        changed = int((prob.terr != before).sum())
        if last:
            break
        if it > 0 and (changed <= max(1, prob.n // 1000) or stale >= _PATIENCE):
            if not big:
                break  # settled, or no longer getting more compact
            rounds = it + 2  # one last, exact round with the settled centres
        c_lat, c_lon = _next_centres(arr, prob, c_lat, c_lon)
        it += 1
    if prm.anchor == "home" or big:
        return flowed
    # Score the final plan too and keep whichever is more compact; later passes then
    # price moves from the kept plan's own centroids.
    f_lat, f_lon = _next_centres(arr, prob, c_lat, c_lon)
    final_cost = oracle.seconds(f_lat, f_lon, arr.lat, arr.lon)
    cost_before, prob.cost = prob.cost, final_cost
    final_disp = prob.dispersion() if _in_band(prob, hard) else np.inf
    if best is not None and best.disp < final_disp:
        prob.terr[:] = best.terr
        prob.cost = oracle.seconds(best.c_lat, best.c_lon, arr.lat, arr.lon)
    elif not np.isfinite(final_disp):
        prob.cost = cost_before
    prob.refresh_candidates(k)
    return flowed


def _repair(prob: Problem, band: tuple[float, float], k: int) -> bool:
    """Chain repair over the ``k`` nearest territories, then over wider neighbourhoods.

    A big town holding a dozen territories gives its accounts only town centres among their
    nearest ``k``, so a town that is over the band as a whole has no chain out of it until
    the candidates reach past its edge.
    """
    ok = False
    for kk in (k, 2 * k, 4 * k):
        if kk > k and kk // 2 >= prob.p:
            break
        if kk != prob.cand.shape[1]:
            prob.refresh_candidates(kk)
        ok = repair_balance(prob, *band, overshoot=_OVERSHOOT)
        if ok:
            break
    if prob.cand.shape[1] != k:
        prob.refresh_candidates(k)
    return ok


_RECENTRE_ROUNDS = 4
"""Polish passes at most, each from the centroids of the plan the previous one left."""


def _recentre(arr: Arrays, oracle: TravelTimeOracle, prob: Problem) -> float:
    """Price every account from its plan's own centroids; returns the plan's dispersion,
    measured as the KPIs measure it."""
    c_lat, c_lon = centroids(arr, prob.terr, prob.p)
    prob.cost = oracle.seconds(c_lat, c_lon, arr.lat, arr.lon)
    return prob.dispersion()


def _polish_rounds(
    arr: Arrays,
    oracle: TravelTimeOracle,
    prob: Problem,
    bands: tuple[tuple[float, float], tuple[float, float]],
    k: int,
) -> float:
    """Alternate re-centring and swap polish while the plan gets more compact.

    Repair and potential swaps leave the plan priced from the location-allocation centres;
    moving the centres to the plan's centroids and polishing against them lowers the
    dispersion the KPIs report. A centroid is not the point that minimises the mean drive,
    so a round can make the plan worse: the most compact plan seen is kept.

    Returns:
        The kept plan's dispersion (``prob.cost`` is priced from its centroids).
    """
    best_disp = _recentre(arr, oracle, prob)
    best = prob.terr.copy()
    for _ in range(_RECENTRE_ROUNDS):
        prob.refresh_candidates(k)
        if polish(prob, *bands) >= 0:
            break
        disp = _recentre(arr, oracle, prob)
        if disp >= best_disp * (1 - _MIN_GAIN):
            if disp < best_disp:
                best_disp, best = disp, prob.terr.copy()
            break
        best_disp, best = disp, prob.terr.copy()
    if not np.array_equal(best, prob.terr):
        prob.terr[:] = best
        _recentre(arr, oracle, prob)
    prob.refresh_candidates(k)
    return best_disp


def _next_centres(
    arr: Arrays, prob: Problem, c_lat: FloatArray, c_lon: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Workload-weighted centroids of the current plan; locked reps keep their centre."""
    n_lat, n_lon = centroids(arr, prob.terr, prob.p)
    keep = arr.rep_locked
    n_lat[keep], n_lon[keep] = c_lat[keep], c_lon[keep]
    return n_lat, n_lon


@dataclass(slots=True)
class _Finished:
    """One start's plan after repair, improvement, potential swaps and polish."""

    prob: Problem
    notes: list[str]
    potential_ok: bool
    in_band: bool
    disp: float
    flowed: bool = False

    def key(self) -> tuple[bool, bool, float]:
        """Sort key: within the hard band first, then potential in band, then compact."""
        return (not self.in_band, not self.potential_ok, self.disp)


def _finish_plan(
    arr: Arrays,
    oracle: TravelTimeOracle,
    prob: Problem,
    prm: DesignParams,
    bands: tuple[tuple[float, float], tuple[float, float]],
    report: Progress,
) -> _Finished:
    """Repair to the band, improve, balance potential and polish one start's plan.

    Starts are compared after these passes, not after location-allocation: the potential
    swaps cost some plans several percent of dispersion and others almost nothing, so the
    most compact plan before them is often not the most compact one after.
    """
    (lo_aim, hi_aim), (lo, hi) = bands
    tol, aim = prm.tolerance, prm.aim()
    report("repair", 0.8)
    notes: list[str] = []
    balanced = _repair(prob, (lo_aim, hi_aim), prm.k_nearest)
    band = (lo_aim, hi_aim) if balanced else (lo, hi)
    if not balanced:
        balanced = _repair(prob, (lo, hi), prm.k_nearest)
        if balanced:
            notes.append(f"workload within ±{tol:.1%} but not within the aim ±{aim:.1%}")
    report("improve", 0.9)
    pmean = prob.mean_potential()
    ptol = prm.potential_tolerance
    p_band = (pmean * (1 - ptol), pmean * (1 + ptol)) if pmean > 0 else (-np.inf, np.inf)
    # Moves and swaps that undo no potential balance the assignment reached.
    polish(prob, band, p_band)
    potential_ok = True
    if pmean > 0:
        # Cheapest swaps first (dispersion), then the largest, before touching the aim band.
        tries = [(band, True), (band, False), ((lo, hi), True)]
        for w_band, cheap in tries[:2] if band == (lo, hi) else tries:
            potential_ok = balance_potential(prob, *w_band, *p_band, cheap_first=cheap)
            if potential_ok:
                break
        if band != (lo, hi) and not _in_band(prob, band):
            notes.append(
                f"workload within ±{tol:.1%} but not within the aim ±{aim:.1%}, "
                f"to bring potential closer to ±{ptol:.0%}"
            )
        if not potential_ok:
            notes.append(f"potential could not be brought within ±{ptol:.0%} for every territory")
    report("polish", 0.93)
    if prm.anchor == "home":
        polish(prob, band, p_band)  # territories stay priced from the homes
        disp = prob.dispersion()
    else:
        disp = _polish_rounds(arr, oracle, prob, (band, p_band), prm.k_nearest)
    return _Finished(prob, notes, potential_ok, _in_band(prob, (lo, hi)), disp)


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
    workload bounds at the aim tolerance (price rounds and a final flow over the accounts
    near a border at large sizes), stopping once the plan stops getting more compact and
    keeping the most compact round. Then chain repair to the band (over wider
    neighbourhoods if needed), moves and pairwise swaps between neighbours that keep both
    bands, potential swaps (cheapest per unit of potential first), and re-centred rounds of
    moves and swaps. Up to 20,000 accounts all this runs from three differently turned
    bisection seeds (five up to 2,000) and the most compact finished plan is kept. Locked
    accounts stay with their rep; a locked rep keeps exactly the accounts locked to them
    and is left out of the balance.

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
    act = np.flatnonzero(~arr.rep_locked)
    if act.shape[0] == 0 and (arr.locked_to < 0).any():
        raise InvalidTerritoryInputError(
            "all_reps_locked", "every rep is locked but some accounts are not locked to one"
        )
    report("seeding", 0.0)
    terr0 = np.where(arr.locked_to >= 0, arr.locked_to, act[0] if act.shape[0] else 0)

    def fresh(c_lat: FloatArray, c_lon: FloatArray) -> Problem:
        return Problem(
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
        return build_assignment(arr, fresh(arr.home_lat, arr.home_lon), oracle)
    balanced_accounts = (arr.locked_to < 0) | ~arr.rep_locked[np.maximum(arr.locked_to, 0)]
    mean = float(arr.w[balanced_accounts].sum()) / act.shape[0]
    tol, aim = prm.tolerance, prm.aim()
    lo_aim, hi_aim = mean * (1 - aim), mean * (1 + aim)
    lo, hi = mean * (1 - tol), mean * (1 + tol)
    bands = ((lo_aim, hi_aim), (lo, hi))
    best: _Finished | None = None
    for angle in _start_angles(prm, arr.w.shape[0]):
        if prm.anchor == "home":
            c_lat, c_lon = arr.home_lat.copy(), arr.home_lon.copy()
        else:
            c_lat, c_lon = _seed(arr, oracle, act, angle)
        trial = fresh(c_lat, c_lon)
        ok = _location_allocation(arr, oracle, trial, prm, (c_lat, c_lon), bands, report)
        done = _finish_plan(arr, oracle, trial, prm, bands, report)
        done.flowed = ok
        if best is None or done.key() < best.key():
            best = done
    assert best is not None
    prob, notes, potential_ok, flowed = best.prob, best.notes, best.potential_ok, best.flowed
    report("kpis", 0.95)
    plan = build_assignment(arr, prob, oracle, potential_ok=potential_ok, notes=notes)
    raise_if_unbalanced(
        arr, prob, tol, plan, "" if flowed else "even the fractional flow model is infeasible"
    )
    report("done", 1.0)
    return plan


__all__ = ["design_territories"]
