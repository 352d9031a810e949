"""Balanced starting centres: recursive bisection on workload, then homes matched to them.

Cutting the region along its longer side at the workload quantile that splits the reps in
proportion gives compact, equal-workload blocks in O(n log n log p); they are a much better
start for location-allocation than random or k-means++ centres, which are unbalanced.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def bisect(xy: FloatArray, w: FloatArray, parts: int) -> IntArray:
    """Split points into ``parts`` groups of (nearly) equal workload by recursive bisection.

    Args:
        xy: ``(n, 2)`` planar coordinates.
        w: Workload per point.
        parts: Number of groups.

    Returns:
        Group label per point, ``0..parts-1``.
    """
    labels = np.zeros(xy.shape[0], dtype=np.int64)
    stack: list[tuple[IntArray, int, int]] = [(np.arange(xy.shape[0]), parts, 0)]
    while stack:
        idx, k, base = stack.pop()
        if k == 1 or idx.shape[0] == 0:
            labels[idx] = base
            continue
        pts = xy[idx]
        span = pts.max(axis=0) - pts.min(axis=0)
        axis = int(np.argmax(span))
        order = idx[np.argsort(pts[:, axis], kind="stable")]
        cum = np.cumsum(w[order])
        left_parts = k // 2
        cut_at = cum[-1] * left_parts / k
        cut = int(np.searchsorted(cum, cut_at))
        cut = min(max(cut, left_parts), order.shape[0] - (k - left_parts))
        stack.append((order[:cut], left_parts, base))
        stack.append((order[cut:], k - left_parts, base + left_parts))
    return labels


def weighted_centroids(xy: FloatArray, w: FloatArray, labels: IntArray, parts: int) -> FloatArray:
    """Workload-weighted centroid per group (an empty group gets the overall centroid)."""
    tot = np.bincount(labels, weights=w, minlength=parts)
    cx = np.bincount(labels, weights=w * xy[:, 0], minlength=parts)
    cy = np.bincount(labels, weights=w * xy[:, 1], minlength=parts)
    overall = (w[:, None] * xy).sum(axis=0) / max(w.sum(), 1e-12)
    out = np.tile(overall, (parts, 1))
    ok = tot > 0
    out[ok, 0] = cx[ok] / tot[ok]
    out[ok, 1] = cy[ok] / tot[ok]
    return out


def match_homes(home_to_centre: NDArray[np.float32] | FloatArray) -> IntArray:
    """Assign territories to reps minimising total home-to-centre drive time.

    Args:
        home_to_centre: ``(reps, territories)`` seconds.

    Returns:
        ``perm`` such that rep ``r`` gets territory ``perm[r]``.
    """
    rows, cols = linear_sum_assignment(np.asarray(home_to_centre, dtype=np.float64))
    perm = np.empty(rows.shape[0], dtype=np.int64)
    perm[rows] = cols
    return perm
