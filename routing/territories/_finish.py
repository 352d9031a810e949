"""Turning a solved :class:`Problem` into an :class:`Assignment` (KPIs, centres, checks)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from routing.territories._inputs import Arrays
from routing.territories._problem import Problem
from routing.territories.errors import InfeasibleBalanceError
from routing.territories.kpis import kpis_from_arrays, per_account_seconds
from routing.territories.model import Assignment
from routing.territories.oracle import TravelTimeOracle

FloatArray = NDArray[np.float64]


def centroids(arr: Arrays, terr: NDArray[np.int64], p: int) -> tuple[FloatArray, FloatArray]:
    """Workload-weighted centroid (lat, lon) per rep; the home when empty (``p`` may add a
    trailing bucket for unassigned accounts, which is dropped)."""
    tot = np.bincount(terr, weights=arr.w, minlength=p)
    safe = np.maximum(tot, 1e-12)
    c_lat = np.bincount(terr, weights=arr.w * arr.lat, minlength=p) / safe
    c_lon = np.bincount(terr, weights=arr.w * arr.lon, minlength=p) / safe
    c_lat, c_lon = c_lat[: len(arr.rep_ids)], c_lon[: len(arr.rep_ids)]
    empty = tot[: len(arr.rep_ids)] <= 0
    c_lat[empty] = arr.home_lat[empty]
    c_lon[empty] = arr.home_lon[empty]
    return c_lat, c_lon


def build_assignment(
    arr: Arrays,
    prob: Problem,
    oracle: TravelTimeOracle,
    moved_idx: NDArray[np.int64] | None = None,
    potential_ok: bool = True,
    notes: list[str] | None = None,
) -> Assignment:
    """Package the solution with its KPIs (dispersion measured from final centroids)."""
    p = prob.p
    c_lat, c_lon = centroids(arr, prob.terr, p)
    centre_s = per_account_seconds(oracle, c_lat, c_lon, arr.lat, arr.lon, prob.terr)
    home_s = per_account_seconds(oracle, arr.home_lat, arr.home_lon, arr.lat, arr.lon, prob.terr)
    moved = moved_idx if moved_idx is not None else np.zeros(0, dtype=np.int64)
    kpis = kpis_from_arrays(
        rep_ids=arr.rep_ids,
        lat=arr.lat,
        lon=arr.lon,
        w=arr.w,
        pot=arr.pot,
        visits=arr.visits,
        terr=prob.terr,
        active=prob.active,
        centre_seconds=centre_s,
        home_seconds=home_s,
        moved=int(moved.shape[0]),
        moved_workload=float(arr.w[moved].sum()),
    )
    return Assignment(
        rep_of={a: arr.rep_ids[t] for a, t in zip(arr.ids, prob.terr.tolist(), strict=True)},
        kpis=kpis,
        moved=[arr.ids[i] for i in moved.tolist()],
        potential_ok=potential_ok,
        centres={
            r: (float(a), float(b)) for r, a, b in zip(arr.rep_ids, c_lat, c_lon, strict=True)
        },
        notes=list(notes or []),
    )


def worst_deviation(prob: Problem) -> tuple[int, float]:
    """(territory, signed relative deviation) of the active territory furthest from the mean."""
    load = prob.loads()
    mean = prob.mean_load()
    act = np.flatnonzero(prob.active)
    dev = load[act] / max(mean, 1e-12) - 1.0
    j = int(np.argmax(np.abs(dev)))
    return int(act[j]), float(dev[j])


def raise_if_unbalanced(
    arr: Arrays, prob: Problem, tolerance: float, plan: Assignment, reason: str = ""
) -> None:
    """Raise :class:`InfeasibleBalanceError` when some active territory is outside tolerance."""
    t, dev = worst_deviation(prob)
    if abs(dev) > tolerance + 1e-9:
        raise InfeasibleBalanceError(arr.rep_ids[t], dev, plan, reason)
