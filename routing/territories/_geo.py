"""Small geodesy helpers shared by the territory engine.

Territories span a region (a country at most), so a local equirectangular projection is
accurate to well under a percent and lets us use planar tools (bisection, k-d trees, hulls).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

EARTH_RADIUS_KM = 6371.0088

FloatArray = NDArray[np.float64]


def project(lat: FloatArray, lon: FloatArray, lat0: float | None = None) -> FloatArray:
    """Project degrees onto a local plane in kilometres (equirectangular around ``lat0``).

    Args:
        lat: Latitudes in degrees.
        lon: Longitudes in degrees.
        lat0: Reference latitude; the mean of ``lat`` when omitted.

    Returns:
        An ``(n, 2)`` array of ``(x, y)`` kilometres.
    """
    ref = float(np.mean(lat)) if lat0 is None else lat0
    k = np.pi / 180.0 * EARTH_RADIUS_KM
    return np.column_stack((np.asarray(lon) * k * np.cos(np.radians(ref)), np.asarray(lat) * k))


def unproject(xy: FloatArray, lat0: float) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`project` for the same ``lat0``; returns ``(lat, lon)`` degrees."""
    k = np.pi / 180.0 * EARTH_RADIUS_KM
    lat = xy[:, 1] / k
    lon = xy[:, 0] / (k * np.cos(np.radians(lat0)))
    return lat, lon


def haversine_km(
    lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray
) -> NDArray[np.float32]:
    """Great-circle distances between every point of set 1 (rows) and set 2 (columns).

    Computed in float32 blocks: at 250 x 100,000 the matrix is 25M cells, so memory and time
    matter more than the last digit.
    """
    la1 = np.radians(np.asarray(lat1, dtype=np.float64))[:, None]
    lo1 = np.radians(np.asarray(lon1, dtype=np.float64))[:, None]
    la2 = np.radians(np.asarray(lat2, dtype=np.float64)).astype(np.float32)[None, :]
    lo2 = np.radians(np.asarray(lon2, dtype=np.float64)).astype(np.float32)[None, :]
    cos2 = np.cos(la2)
    out = np.empty((la1.shape[0], la2.shape[1]), dtype=np.float32)
    block = max(1, 4_000_000 // max(1, la2.shape[1]))
    for s in range(0, la1.shape[0], block):
        a1 = la1[s : s + block].astype(np.float32)
        o1 = lo1[s : s + block].astype(np.float32)
        h = np.sin((la2 - a1) * 0.5) ** 2 + np.cos(a1) * cos2 * np.sin((lo2 - o1) * 0.5) ** 2
        np.clip(h, 0.0, 1.0, out=h)
        out[s : s + block] = (2.0 * EARTH_RADIUS_KM) * np.arcsin(np.sqrt(h))
    return out
