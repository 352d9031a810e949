"""KPIs for comparing alignments: balance, dispersion, drive time, churn, shape.

All figures derive from the assignment and the oracle, so two what-if plans scored with the
same oracle are comparable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from routing.territories._geo import project
from routing.territories.model import TerritoryAccount, TerritoryKpis, TerritoryRep, TerritoryStats
from routing.territories.oracle import TravelTimeOracle

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

WORKDAYS_PER_WEEK = 5
WEEKS_PER_YEAR = 46  # working weeks: holidays and training take the rest
TOUR_SPEED_KMH = 50.0 / 1.3  # straight-line km per hour of driving (50 km/h, detour 1.3)
BHH = 0.7124  # Beardwood-Halton-Hammersley constant for random uniform points


def _spread(x: FloatArray) -> tuple[float, float, float]:
    """(max |x/mean - 1|, max/min, coefficient of variation)."""
    if x.shape[0] == 0:
        return 0.0, 1.0, 0.0
    mean = float(x.mean())
    if mean <= 0:
        return 0.0, 1.0, 0.0
    lo = float(x.min())
    ratio = float(x.max() / lo) if lo > 0 else float("inf")
    return float(np.abs(x / mean - 1).max()), ratio, float(x.std() / mean)


def contiguity(xy: FloatArray, terr: IntArray, k: int = 8) -> tuple[float, int]:
    """Neighbourhood agreement and fragment count.

    Returns:
        ``(share, fragments)``: the share of accounts whose ``k`` nearest neighbours mostly
        share their territory, and the number of extra connected pieces over all territories
        in the symmetric 6-nearest-neighbour graph restricted to same-territory edges.
    """
    n = xy.shape[0]
    if n < 2:
        return 1.0, 0
    kk = min(k + 1, n)
    tree = cKDTree(xy)
    _, nb = tree.query(xy, k=kk)
    nb = np.asarray(nb)[:, 1:]
    same = terr[nb] == terr[:, None]
    share = float((same.mean(axis=1) > 0.5).mean())
    g = nb[:, : min(6, nb.shape[1])]
    rows = np.repeat(np.arange(n), g.shape[1])
    cols = g.ravel()
    keep = terr[rows] == terr[cols]
    graph = coo_matrix((np.ones(int(keep.sum())), (rows[keep], cols[keep])), shape=(n, n))
    ncomp, labels = connected_components(graph, directed=False)
    pieces = np.unique(np.column_stack((terr, labels)), axis=0)
    fragments = int(pieces.shape[0] - np.unique(terr).shape[0])
    del ncomp
    return share, fragments


def hull_overlap(xy: FloatArray, terr: IntArray) -> float:
    """Sum of pairwise convex-hull intersection areas over the sum of hull areas (0 = none)."""
    hulls = []
    for t in np.unique(terr):
        pts = xy[terr == t]
        if pts.shape[0] >= 3:
            hulls.append(shapely.convex_hull(shapely.multipoints(pts)))
    if len(hulls) < 2:
        return 0.0
    arr = np.array(hulls, dtype=object)
    total = float(shapely.area(arr).sum())
    if total <= 0:
        return 0.0
    tree = shapely.STRtree(arr)
    left, right = tree.query(arr, predicate="intersects")
    mask = left < right
    if not mask.any():
        return 0.0
    inter = shapely.area(shapely.intersection(arr[left[mask]], arr[right[mask]]))
    return float(inter.sum() / total)


def kpis_from_arrays(
    *,
    rep_ids: Sequence[str],
    lat: FloatArray,
    lon: FloatArray,
    w: FloatArray,
    pot: FloatArray,
    visits: FloatArray,
    terr: IntArray,
    active: NDArray[np.bool_],
    centre_seconds: FloatArray,
    home_seconds: FloatArray | None,
    moved: int = 0,
    moved_workload: float = 0.0,
) -> TerritoryKpis:
    """Compute KPIs from per-account arrays (the engine's fast path; see :func:`compute_kpis`).

    ``centre_seconds[i]`` / ``home_seconds[i]`` are drive seconds from account ``i``'s own
    territory centre / rep home.
    """
    p = len(rep_ids)
    load = np.bincount(terr, weights=w, minlength=p).astype(np.float64)
    pots = np.bincount(terr, weights=pot, minlength=p).astype(np.float64)
    count = np.bincount(terr, minlength=p)
    wsum = max(float(w.sum()), 1e-12)
    disp = float((centre_seconds * w).sum() / wsum)
    hdisp = None if home_seconds is None else float((home_seconds * w).sum() / wsum)
    act = np.flatnonzero(active)
    mean_load = float(load[act].mean()) if act.shape[0] else 0.0
    mean_pot = float(pots[act].mean()) if act.shape[0] else 0.0
    xy = project(lat, lon)
    stem_src = home_seconds if home_seconds is not None else centre_seconds
    weekly = np.zeros(p)
    wsafe = np.maximum(load, 1e-12)
    tdisp = np.bincount(terr, weights=centre_seconds * w, minlength=p) / wsafe
    stem_h = 2.0 * np.bincount(terr, weights=stem_src * w, minlength=p) / wsafe / 3600.0
    per_week = np.bincount(terr, weights=visits, minlength=p) / WEEKS_PER_YEAR
    for t, sel in enumerate(_members_by_territory(terr, p)):
        if sel.shape[0] == 0 or per_week[t] <= 0:
            continue
        stops_per_day = per_week[t] / WORKDAYS_PER_WEEK
        area = (
            float(shapely.convex_hull(shapely.multipoints(xy[sel])).area)
            if sel.shape[0] >= 3
            else 0.0
        )
        tour_h = BHH * np.sqrt(max(stops_per_day, 0.0) * area) / TOUR_SPEED_KMH
        weekly[t] = WORKDAYS_PER_WEEK * (stem_h[t] + tour_h)
    share, fragments = contiguity(xy, terr)
    wl = _spread(load[act])
    pl = _spread(pots[act])
    rows = [
        TerritoryStats(
            rep_id=rep_ids[t],
            accounts=int(count[t]),
            workload_hours=float(load[t]),
            workload_deviation=float(load[t] / mean_load - 1) if mean_load > 0 else 0.0,
            potential=float(pots[t]),
            potential_deviation=float(pots[t] / mean_pot - 1) if mean_pot > 0 else 0.0,
            dispersion_seconds=float(tdisp[t]),
            weekly_drive_hours=float(weekly[t]),
        )
        for t in range(p)
    ]
    return TerritoryKpis(
        workload_max_deviation=wl[0],
        workload_ratio=wl[1],
        workload_cv=wl[2],
        potential_max_deviation=pl[0],
        potential_ratio=pl[1],
        potential_cv=pl[2],
        dispersion_seconds=disp,
        home_dispersion_seconds=hdisp,
        weekly_drive_hours=float(weekly.sum()),
        accounts_moved=moved,
        workload_moved_hours=moved_workload,
        contiguity=share,
        fragments=fragments,
        hull_overlap=hull_overlap(xy, terr),
        territories=rows,
    )


def per_account_seconds(
    oracle: TravelTimeOracle,
    src_lat: FloatArray,
    src_lon: FloatArray,
    lat: FloatArray,
    lon: FloatArray,
    terr: IntArray,
) -> FloatArray:
    """Seconds from each account's own territory source point (one oracle call per territory)."""
    out = np.zeros(lat.shape[0])
    for t, sel in enumerate(_members_by_territory(terr, int(terr.max()) + 1 if terr.size else 0)):
        if sel.shape[0]:
            row = oracle.seconds(src_lat[t : t + 1], src_lon[t : t + 1], lat[sel], lon[sel])
            out[sel] = row[0]
    return out


def _members_by_territory(terr: IntArray, p: int) -> list[IntArray]:
    """Account indices per territory ``0..p-1`` (ascending), from one sort."""
    order = np.argsort(terr, kind="stable")
    bounds = np.searchsorted(terr[order], np.arange(p + 1))
    return [order[bounds[t] : bounds[t + 1]] for t in range(p)]


def compute_kpis(
    accounts: Sequence[TerritoryAccount],
    reps: Sequence[TerritoryRep],
    rep_of: Mapping[str, str],
    oracle: TravelTimeOracle,
    current: Mapping[str, str] | None = None,
    centres: Mapping[str, tuple[float, float]] | None = None,
) -> TerritoryKpis:
    """Score any assignment (a design, a realignment, or a hand-made what-if).

    Args:
        accounts: All accounts of the plan.
        reps: Reps, in display order; locked reps are left out of the balance figures.
        rep_of: ``account_id -> rep_id``.
        oracle: Travel times (use the same oracle for plans you compare).
        current: The plan to count moves against (``None`` = no moves).
        centres: ``rep_id -> (lat, lon)`` territory centres; workload-weighted centroids of
            the accounts when omitted.
    """
    rep_ids = [r.id for r in reps]
    index = {r: i for i, r in enumerate(rep_ids)}
    lat = np.array([a.lat for a in accounts], dtype=np.float64)
    lon = np.array([a.lon for a in accounts], dtype=np.float64)
    w = np.array([a.workload_hours for a in accounts], dtype=np.float64)
    pot = np.array([a.potential for a in accounts], dtype=np.float64)
    visits = np.array(
        [a.visits_per_year if a.visits_per_year is not None else a.workload_hours for a in accounts]
    )
    terr = np.array([index[rep_of[a.id]] for a in accounts], dtype=np.int64)
    p = len(reps)
    tot = np.bincount(terr, weights=w, minlength=p)
    safe = np.maximum(tot, 1e-12)
    c_lat = np.bincount(terr, weights=w * lat, minlength=p) / safe
    c_lon = np.bincount(terr, weights=w * lon, minlength=p) / safe
    if centres is not None:
        for r, (a_lat, a_lon) in centres.items():
            if r in index:
                c_lat[index[r]], c_lon[index[r]] = a_lat, a_lon
    centre_s = per_account_seconds(oracle, c_lat, c_lon, lat, lon, terr)
    home_s: FloatArray | None = None
    if all(r.lat is not None and r.lon is not None for r in reps):
        h_lat = np.array([r.lat for r in reps], dtype=np.float64)
        h_lon = np.array([r.lon for r in reps], dtype=np.float64)
        home_s = per_account_seconds(oracle, h_lat, h_lon, lat, lon, terr)
    moved = 0
    moved_w = 0.0
    if current is not None:
        for a, wi in zip(accounts, w, strict=True):
            before = current.get(a.id)
            if before is not None and before != rep_of[a.id]:
                moved += 1
                moved_w += float(wi)
    active = np.array([not r.locked for r in reps], dtype=bool)
    return kpis_from_arrays(
        rep_ids=rep_ids,
        lat=lat,
        lon=lon,
        w=w,
        pot=pot,
        visits=visits,
        terr=terr,
        active=active,
        centre_seconds=centre_s,
        home_seconds=home_s,
        moved=moved,
        moved_workload=moved_w,
    )


__all__ = ["compute_kpis", "contiguity", "hull_overlap", "kpis_from_arrays"]
