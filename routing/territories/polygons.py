"""Territory outlines for the map: a hull of each territory's accounts (shapely)."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import MultiPoint, mapping

from routing.territories.model import TerritoryAccount


@dataclass(frozen=True, slots=True)
class TerritoryPolygon:
    """One territory outline in lon/lat degrees.

    Attributes:
        rep_id: Owner of the territory.
        wkt: Well-known text (a POLYGON for 3+ spread accounts, else a POINT or LINESTRING).
        geojson: GeoJSON geometry dict (``{"type": ..., "coordinates": ...}``).
        area_km2: Approximate area (0 for degenerate outlines).
    """

    rep_id: str
    wkt: str
    geojson: dict[str, Any]
    area_km2: float


def territory_polygons(
    accounts: Sequence[TerritoryAccount],
    rep_of: Mapping[str, str],
    concave_ratio: float | None = None,
) -> dict[str, TerritoryPolygon]:
    """Outline every territory by the hull of its accounts.

    Args:
        accounts: The accounts (coordinates come from here).
        rep_of: ``account_id -> rep_id``.
        concave_ratio: ``None`` for the convex hull (robust, never self-intersecting); a value
            in ``(0, 1]`` for ``shapely.concave_hull`` (smaller hugs the accounts tighter).

    Returns:
        ``rep_id -> TerritoryPolygon``.
    """
    pts: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for a in accounts:
        rep = rep_of.get(a.id)
        if rep is not None:
            pts[rep].append((a.lon, a.lat))
    out: dict[str, TerritoryPolygon] = {}
    for rep, coords in sorted(pts.items()):
        mp = MultiPoint(coords)
        geom = mp.convex_hull if concave_ratio is None else shapely.concave_hull(mp, concave_ratio)
        lat0 = sum(c[1] for c in coords) / len(coords)
        km_per_deg = 111.195
        area = float(geom.area) * km_per_deg**2 * abs(math.cos(math.radians(lat0)))
        out[rep] = TerritoryPolygon(rep, geom.wkt, dict(mapping(geom)), area)
    return out


__all__ = ["TerritoryPolygon", "territory_polygons"]
