"""Small geodesy helpers: great-circle distances and a local flat projection.

Snapping needs point-to-segment distances. Within one region (tens to a few hundred km) an
equirectangular projection centred on the region is accurate to well under a percent for the
short distances that matter (a point to its nearest road), and it lets shapely do the geometry
in metres. Reported offsets use the great-circle distance, not the projection.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(
    lat1: ArrayLike, lon1: ArrayLike, lat2: ArrayLike, lon2: ArrayLike
) -> NDArray[np.float64]:
    """Great-circle distance in metres (vectorised)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(np.asarray(lon2, dtype=np.float64) - np.asarray(lon1, dtype=np.float64))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(
        2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), dtype=np.float64
    )


class LocalProjection:
    """Equirectangular metres around a reference point (x east, y north)."""

    def __init__(self, lat0: float, lon0: float) -> None:
        self.lat0 = lat0
        self.lon0 = lon0
        self.ky = EARTH_RADIUS_M * math.pi / 180.0
        self.kx = self.ky * math.cos(math.radians(lat0))

    def forward(
        self, lat: ArrayLike, lon: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(x, y)`` metres of ``(lat, lon)`` degrees."""
        x = (np.asarray(lon, dtype=np.float64) - self.lon0) * self.kx
        y = (np.asarray(lat, dtype=np.float64) - self.lat0) * self.ky
        return x, y

    def inverse(
        self, x: ArrayLike, y: ArrayLike
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(lat, lon)`` degrees of ``(x, y)`` metres."""
        lat = np.asarray(y, dtype=np.float64) / self.ky + self.lat0
        lon = np.asarray(x, dtype=np.float64) / self.kx + self.lon0
        return lat, lon


__all__ = ["EARTH_RADIUS_M", "LocalProjection", "haversine_m"]
