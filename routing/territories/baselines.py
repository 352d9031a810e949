"""Reference partitions the engine is measured against (benchmarks and tests only).

Unbalanced weighted k-means is the dispersion yardstick: it minimises workload-weighted
squared distance with no balance at all, so a balanced plan can only approach it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from routing.territories._geo import project
from routing.territories._seeding import weighted_centroids
from routing.territories.model import TerritoryAccount, TerritoryRep

IntArray = NDArray[np.int64]


def weighted_kmeans_labels(
    xy: NDArray[np.float64], w: NDArray[np.float64], k: int, seed: int = 0, iters: int = 50
) -> IntArray:
    """Lloyd's algorithm with workload weights and k-means++ seeding (best of 3 starts)."""
    rng = np.random.default_rng(seed)
    best: tuple[float, IntArray] | None = None
    for _ in range(3):
        centres = [xy[rng.choice(xy.shape[0], p=w / w.sum())]]
        d2 = ((xy - centres[0]) ** 2).sum(axis=1)
        for _ in range(1, k):
            prob = w * d2
            centres.append(xy[rng.choice(xy.shape[0], p=prob / prob.sum())])
            d2 = np.minimum(d2, ((xy - centres[-1]) ** 2).sum(axis=1))
        c = np.asarray(centres)
        labels = np.zeros(xy.shape[0], dtype=np.int64)
        for _ in range(iters):
            _, new = cKDTree(c).query(xy)
            new = np.asarray(new, dtype=np.int64)
            c = weighted_centroids(xy, w, new, k)
            if (new == labels).all():
                break
            labels = new
        inertia = float((w * ((xy - c[labels]) ** 2).sum(axis=1)).sum())
        if best is None or inertia < best[0]:
            best = (inertia, labels)
    assert best is not None
    return best[1]


def weighted_kmeans_plan(
    accounts: Sequence[TerritoryAccount], reps: Sequence[TerritoryRep], seed: int = 0
) -> dict[str, str]:
    """Unbalanced weighted k-means as an ``account_id -> rep_id`` plan (reps in cluster order)."""
    lat = np.array([a.lat for a in accounts])
    lon = np.array([a.lon for a in accounts])
    w = np.array([max(a.workload_hours, 1e-9) for a in accounts])
    labels = weighted_kmeans_labels(project(lat, lon), w, len(reps), seed)
    return {a.id: reps[int(t)].id for a, t in zip(accounts, labels, strict=True)}


__all__ = ["weighted_kmeans_labels", "weighted_kmeans_plan"]
