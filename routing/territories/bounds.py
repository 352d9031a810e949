"""A lower bound on the dispersion any balanced plan can reach (benchmarks and tests only).

The benchmark compares dispersion with unbalanced weighted k-means. On heavily clustered
data no balanced plan can come close: a town holding 40 % of the workload must be cut into
four territories while the rural rest is stretched over the remaining ones. This module
turns that into a number: a certified lower bound on the dispersion of every plan whose
territories all lie within ``mean * (1 ± tolerance)``, so "the target is out of reach" can
be shown rather than claimed.

Method (Lagrangian relaxation of the set-partitioning model). A plan is ``p`` territories,
each a set ``S`` of accounts with workload in ``[lo, hi]`` and a centre ``c``, costing
``sum_{i in S} w_i d(c, i)``. Pricing each account at ``u_i``, every territory costs at
least ``g_u = min over c and S of sum_{i in S} (w_i d(c, i) - u_i)`` more than the prices
of its accounts, so every plan costs at least ``L(u) = sum_i u_i + p * g_u``. For a fixed
centre the minimum over ``S`` is a knapsack; its fractional relaxation (sort by
``(w_i d(c, i) - u_i) / w_i``) is smaller still, so using it keeps the bound valid. The
minimum over centres is bounded cell by cell on a lat/lon grid over the accounts' bounding
box: within a cell of radius ``r`` around ``g``, ``d(c, i) >= d(g, i) - r`` by the triangle
inequality, and cells that cannot hold the minimum are pruned while the others are split.
The prices ``u`` come from a subgradient ascent started at the given plan's own costs.

Validity rests on two facts the caller must respect: the oracle is a metric (true of
:class:`~routing.territories.oracle.StraightLineOracle`; road times are not used here) and
centres lie in the bounding box of the accounts' coordinates, which holds for the
workload-weighted centroids that :func:`~routing.territories.kpis.compute_kpis` measures
dispersion from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from routing.territories.model import TerritoryAccount
from routing.territories.oracle import TravelTimeOracle

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class DispersionBound:
    """Result of :func:`balanced_dispersion_lower_bound`.

    Attributes:
        lower_bound_seconds: No plan with every territory inside the band has a lower
            workload-weighted mean distance to its territories' centres.
        start_seconds: The same figure for the plan the ascent started from (an upper
            bound on the optimum when that plan is balanced).
        iterations: Subgradient steps taken.
        cells: Grid cells evaluated while certifying the minimum over centres.
    """

    lower_bound_seconds: float
    start_seconds: float
    iterations: int
    cells: int


def _fractional_knapsack(a: FloatArray, w: FloatArray, lo: float, hi: float) -> FloatArray:
    """Row-wise ``min sum_i a_i x_i`` over ``x in [0, 1]^n`` with ``sum_i w_i x_i`` in
    ``[lo, hi]`` (``w > 0``, ``sum w >= hi``)."""
    values, _ = _knapsack_with_solution(a, w, lo, hi, want_rows=None)
    return values


def _knapsack_with_solution(
    a: FloatArray, w: FloatArray, lo: float, hi: float, want_rows: IntArray | None
) -> tuple[FloatArray, list[FloatArray]]:
    """:func:`_fractional_knapsack` plus the optimal ``x`` of the rows in ``want_rows``."""
    ratio = a / w
    order = np.argsort(ratio, axis=1)
    rs = np.take_along_axis(ratio, order, axis=1)
    ws = w[order]
    cw = np.cumsum(ws, axis=1)
    ca = np.cumsum(np.take_along_axis(a, order, axis=1), axis=1)
    # The objective as a function of the total weight taken is convex with slope ``rs``:
    # take every negative-ratio item, clipped to the band.
    take = np.clip(np.where(rs < 0, ws, 0.0).sum(axis=1), lo, hi)
    rows = np.arange(a.shape[0])
    full = (cw < take[:, None] - 1e-12 * hi).sum(axis=1)  # items taken whole
    prev_w = np.where(full > 0, cw[rows, np.maximum(full - 1, 0)], 0.0)
    prev_a = np.where(full > 0, ca[rows, np.maximum(full - 1, 0)], 0.0)
    nxt = np.minimum(full, a.shape[1] - 1)
    values: FloatArray = prev_a + (take - prev_w) * rs[rows, nxt]
    solutions: list[FloatArray] = []
    for r in want_rows.tolist() if want_rows is not None else []:
        x = np.zeros(a.shape[1])
        k = int(full[r])
        x[order[r, :k]] = 1.0
        if k < a.shape[1]:
            x[order[r, k]] = (take[r] - prev_w[r]) / ws[r, k]
        solutions.append(x)
    return values, solutions


def _cell_radius(
    oracle: TravelTimeOracle, box: tuple[float, float, float, float], h_lat: float, h_lon: float
) -> float:
    """Seconds from a cell's centre to its farthest point, for cells of half-size
    ``(h_lat, h_lon)`` degrees anywhere in ``box``, with a 1 % margin.

    A corner is the farthest point of a small lat/lon cell; a degree of longitude is longest
    nearest the equator, so both latitude ends of the box are tried.
    """
    far = 0.0
    mid_lon = np.array([0.5 * (box[2] + box[3])])
    for edge in (box[0], box[1]):
        for d_lat in (h_lat, -h_lat):
            centre = np.array([edge])
            s = oracle.seconds(centre, mid_lon, centre + d_lat, mid_lon + h_lon)
            far = max(far, float(s[0, 0]))
    return far * 1.01 + 1e-6


def balanced_dispersion_lower_bound(
    accounts: Sequence[TerritoryAccount],
    territories: int,
    oracle: TravelTimeOracle,
    start: Mapping[str, str],
    tolerance: float = 0.05,
    iterations: int = 500,
    grid: int = 32,
    sample: int = 500,
    depth: int = 12,
) -> DispersionBound:
    """Certified lower bound on the dispersion of any plan balanced within ``tolerance``.

    Dispersion is measured as in :func:`~routing.territories.kpis.compute_kpis`: the
    workload-weighted mean of ``oracle.seconds`` from each territory's centre to its
    accounts, centres in the accounts' bounding box (workload-weighted centroids are).

    Args:
        accounts: The accounts (zero-workload accounts do not change the bound).
        territories: Number of territories ``p``; each must hold ``mean * (1 ± tolerance)``.
        oracle: A metric oracle (straight-line distances).
        start: A plan ``account_id -> territory`` (e.g. the engine's) whose centroid costs
            start the ascent; it need not be balanced.
        tolerance: The balance band of the plans the bound covers.
        iterations: Subgradient steps (the bound only grows with more).
        grid: Centres per side of the grid the ascent prices on.
        sample: Account locations added to that grid.
        depth: Cell splits allowed when certifying the minimum over centres.

    Returns:
        The bound and bookkeeping; ``lower_bound_seconds <= dispersion`` of every such plan.

    Example:
        >>> b = balanced_dispersion_lower_bound(acc, 10, StraightLineOracle(), plan.rep_of)
        ... # doctest: +SKIP
        >>> b.lower_bound_seconds <= plan.kpis.dispersion_seconds  # doctest: +SKIP
        True
    """
    keep = [a for a in accounts if a.workload_hours > 0]
    if territories < 1 or len(keep) < territories:
        raise ValueError("need at least one account with workload per territory")
    lat = np.array([a.lat for a in keep], dtype=np.float64)
    lon = np.array([a.lon for a in keep], dtype=np.float64)
    w = np.array([a.workload_hours for a in keep], dtype=np.float64)
    n, p, total = lat.shape[0], territories, float(w.sum())
    lo, hi = total / p * (1 - tolerance), total / p * (1 + tolerance)
    box = (float(lat.min()), float(lat.max()), float(lon.min()), float(lon.max()))

    # Start: each account priced at its cost in the start plan (centroid distances).
    labels = np.unique([start[a.id] for a in keep], return_inverse=True)[1].astype(np.int64)
    k = int(labels.max()) + 1
    tot = np.maximum(np.bincount(labels, weights=w, minlength=k), 1e-12)
    c_lat = np.bincount(labels, weights=w * lat, minlength=k) / tot
    c_lon = np.bincount(labels, weights=w * lon, minlength=k) / tot
    u = np.zeros(n)
    for t in range(k):
        sel = np.flatnonzero(labels == t)
        d = oracle.seconds(c_lat[t : t + 1], c_lon[t : t + 1], lat[sel], lon[sel])[0]
        u[sel] = w[sel] * d.astype(np.float64)
    upper = float(u.sum())

    rng = np.random.default_rng(0)
    g_lat, g_lon = np.meshgrid(
        np.linspace(box[0], box[1], grid), np.linspace(box[2], box[3], grid), indexing="ij"
    )
    pick = rng.choice(n, min(n, sample), replace=False)
    pr_lat = np.concatenate((g_lat.ravel(), lat[pick]))
    pr_lon = np.concatenate((g_lon.ravel(), lon[pick]))
    dist = oracle.seconds(pr_lat, pr_lon, lat, lon).astype(np.float64)

    best, best_u = -np.inf, u.copy()
    step_scale, stall, steps = 1.0, 0, 0
    xbar: FloatArray | None = None
    while steps < iterations:
        steps += 1
        values = _fractional_knapsack(w * dist - u, w, lo, hi)
        g = int(np.argmin(values))
        bound = float(u.sum() + p * values[g])
        if bound > best + 1e-12 * abs(upper):
            best, best_u, stall = bound, u.copy(), 0
        else:
            stall += 1
            if stall >= 15:
                step_scale *= 0.6
                stall = 0
                u = best_u.copy()
                continue
        _, sols = _knapsack_with_solution(
            (w * dist - u)[g : g + 1], w, lo, hi, np.zeros(1, dtype=np.int64)
        )
        xbar = sols[0] if xbar is None else 0.1 * sols[0] + 0.9 * xbar
        direction = 1.0 - p * xbar
        norm = float((direction**2).sum())
        if norm <= 1e-12 or step_scale < 1e-4:
            break
        u = u + step_scale * max(upper - bound, 1e-9 * upper) / norm * direction

    slack = 1e-3 * abs(float(best_u.sum())) / p  # costs the bound at most 0.1 %
    g_min, cells = _certified_minimum(oracle, lat, lon, w, best_u, (lo, hi), box, depth, slack)
    lower = float(best_u.sum() + p * g_min)
    return DispersionBound(
        lower_bound_seconds=max(lower, 0.0) / total,
        start_seconds=upper / total,
        iterations=steps,
        cells=cells,
    )


def _certified_minimum(
    oracle: TravelTimeOracle,
    lat: FloatArray,
    lon: FloatArray,
    w: FloatArray,
    u: FloatArray,
    band: tuple[float, float],
    box: tuple[float, float, float, float],
    depth: int,
    slack: float,
    cells: int = 64,
) -> tuple[float, int]:
    """A lower bound on ``min over centres in box`` of the priced knapsack (branch and bound
    over lat/lon cells); returns it and the number of cells evaluated.

    A cell is split only while its bound is more than ``slack`` below the best value found
    at a cell centre, so the result is within ``slack`` of the exact minimum (or limited by
    ``depth``) and always below it.
    """
    lo, hi = band
    h_lat = max((box[1] - box[0]) / cells / 2, 1e-9)
    h_lon = max((box[3] - box[2]) / cells / 2, 1e-9)
    ax_lat = box[0] + h_lat * (1 + 2 * np.arange(cells))
    ax_lon = box[2] + h_lon * (1 + 2 * np.arange(cells))
    m_lat, m_lon = np.meshgrid(ax_lat, ax_lon, indexing="ij")
    c_lat, c_lon = m_lat.ravel(), m_lon.ravel()
    upper = np.inf
    settled: list[FloatArray] = []
    evaluated = 0
    for level in range(depth + 1):
        radius = _cell_radius(oracle, box, h_lat, h_lon)
        lows = np.empty(c_lat.shape[0])
        for s in range(0, c_lat.shape[0], 256):
            d = oracle.seconds(c_lat[s : s + 256], c_lon[s : s + 256], lat, lon)
            d = d.astype(np.float64)
            upper = min(upper, float(_fractional_knapsack(w * d - u, w, lo, hi).min()))
            lows[s : s + 256] = _fractional_knapsack(w * np.maximum(d - radius, 0.0) - u, w, lo, hi)
        evaluated += c_lat.shape[0]
        split = lows < upper - slack
        settled.append(lows[~split])
        if not split.any() or level == depth:
            settled.append(lows[split])
            break
        h_lat, h_lon = h_lat / 2, h_lon / 2
        s_lat, s_lon = c_lat[split], c_lon[split]
        c_lat = np.concatenate((s_lat - h_lat, s_lat - h_lat, s_lat + h_lat, s_lat + h_lat))
        c_lon = np.concatenate((s_lon - h_lon, s_lon + h_lon, s_lon - h_lon, s_lon + h_lon))
    return float(np.concatenate(settled).min()), evaluated


__all__ = ["DispersionBound", "balanced_dispersion_lower_bound"]
