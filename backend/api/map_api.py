"""What the PWA's map needs: the road network to draw without tiles, and territory outlines.

``roadNetwork`` lets the client draw streets from the routing engine's own arrays, so the map
works offline, in tests and wherever no tile server is reachable. ``territoryOutlines`` gives
each territory of an alignment as GeoJSON; when the alignment stored no outline, the convex
hull of the territory's accounts (padded a little) stands in and ``derived`` says so.

Example:
    >>> query = '''{ roadNetwork(bbox: {south: 47.1, west: 9.5, north: 47.2, east: 9.6})
    ...   { segmentCount segments attribution } }'''
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import strawberry
from sqlalchemy import select
from strawberry.scalars import JSON
from strawberry.types import Info

from backend.api.context import Context
from backend.api.errors import bad_input, not_found
from backend.api.queries import parse_id
from backend.auth import policy
from backend.auth.viewer import Viewer
from backend.db import models

if TYPE_CHECKING:
    from routing.network import RoadNetwork

OSM_ATTRIBUTION = "© OpenStreetMap contributors"
MAX_SEGMENTS = 50_000
_HULL_PAD_DEG = 0.003  # ~300 m: a territory of one or two accounts still shows as an area
_CACHE_KEY = "map_api.road_segments"


@strawberry.input(description="A latitude/longitude box (WGS84 degrees).")
class BBoxInput:
    south: float
    west: float
    north: float
    east: float


@strawberry.type(description="A latitude/longitude box (WGS84 degrees).")
class BBox:
    south: float
    west: float
    north: float
    east: float


@strawberry.type(description="Drivable roads to draw when no map tiles are available.")
class RoadNetworkView:
    region: str = strawberry.field(description="Name of the routed region.")
    bounds: BBox = strawberry.field(description="Extent of the whole network.")
    segments: list[str] = strawberry.field(
        description="Road segments as Google encoded polylines (precision 5), one per road "
        "between two intersections (two-way roads once)."
    )
    segment_count: int
    truncated: bool = strawberry.field(
        description="True when more segments matched than ``maxSegments``."
    )
    attribution: str


@strawberry.type(description="A territory's outline on the map.")
class TerritoryOutline:
    territory_id: strawberry.ID
    alignment_id: strawberry.ID
    name: str
    rep_id: strawberry.ID | None
    rep_name: str | None
    account_count: int
    geojson: JSON | None = strawberry.field(
        description="GeoJSON geometry (lon/lat), or null for a territory without accounts."
    )
    derived: bool = strawberry.field(
        description="True when the outline is the hull of the accounts, not a stored outline."
    )


@dataclass(frozen=True, slots=True)
class _Segments:
    """Every undirected road of a network with its bounding box, encoded once per process."""

    content_hash: str
    south: Any
    west: Any
    north: Any
    east: Any
    polylines: list[str]


def _road_segments(net: RoadNetwork) -> _Segments:
    import numpy as np
    import polyline

    g = net.compiled
    edges = np.arange(net.edge_count)
    keep = (g.edge_reverse < 0) | (g.edge_reverse > edges)
    lo = g.geom_offsets[:-1]
    hi = g.geom_offsets[1:]
    chosen = edges[keep & (hi > lo)]
    polylines: list[str] = []
    souths, wests, norths, easts = [], [], [], []
    for e in chosen.tolist():
        lat = g.geom_lat[lo[e] : hi[e]]
        lon = g.geom_lon[lo[e] : hi[e]]
        souths.append(float(lat.min()))
        norths.append(float(lat.max()))
        wests.append(float(lon.min()))
        easts.append(float(lon.max()))
        polylines.append(polyline.encode(list(zip(lat.tolist(), lon.tolist(), strict=True)), 5))
    return _Segments(
        content_hash=net.content_hash,
        south=np.asarray(souths),
        west=np.asarray(wests),
        north=np.asarray(norths),
        east=np.asarray(easts),
        polylines=polylines,
    )


async def _cached_segments(ctx: Context) -> tuple[RoadNetwork, _Segments]:
    import asyncio

    net = await ctx.runtime.road_network()
    cached = ctx.runtime.extras.get(_CACHE_KEY)
    if isinstance(cached, _Segments) and cached.content_hash == net.content_hash:
        return net, cached
    fresh = await asyncio.to_thread(_road_segments, net)
    ctx.runtime.extras[_CACHE_KEY] = fresh
    return net, fresh


def _check_bbox(bbox: BBoxInput) -> None:
    if not (-90.0 <= bbox.south <= bbox.north <= 90.0):
        raise bad_input("bbox", "bbox needs -90 <= south <= north <= 90")
    if not (-180.0 <= bbox.west <= bbox.east <= 180.0):
        raise bad_input("bbox", "bbox needs -180 <= west <= east <= 180")


async def _alignment_ids(
    ctx: Context, viewer: Viewer, alignment_id: strawberry.ID | None
) -> list[int]:
    visible = policy.alignments_visible_to(viewer)
    if alignment_id is not None:
        wanted = parse_id(alignment_id, "alignmentId")
        found = await ctx.session.scalar(
            select(models.Alignment.id).where(models.Alignment.id == wanted, visible)
        )
        if found is None:
            raise not_found("Alignment", alignment_id)
        return [int(found)]
    rows = await ctx.session.scalars(
        select(models.Alignment.id).where(
            visible, models.Alignment.state == models.AlignmentState.ACTIVE
        )
    )
    return [int(r) for r in rows]


def _hull(points: list[tuple[float, float]]) -> JSON | None:
    from shapely.geometry import MultiPoint, mapping

    if not points:
        return None
    geom = MultiPoint(points).convex_hull.buffer(_HULL_PAD_DEG, quad_segs=4)
    return JSON(dict(mapping(geom)))


def _stored(wkt: str) -> JSON | None:
    from shapely import wkt as shapely_wkt
    from shapely.errors import ShapelyError
    from shapely.geometry import mapping

    try:
        return JSON(dict(mapping(shapely_wkt.loads(wkt))))
    except ShapelyError:
        return None


@strawberry.type
class MapQuery:
    @strawberry.field(
        description="Drivable roads inside ``bbox`` (default: the whole region) as encoded "
        "polylines, for drawing a map without tiles."
    )
    async def road_network(
        self,
        info: Info[Context, None],
        bbox: BBoxInput | None = None,
        max_segments: int = 20_000,
    ) -> RoadNetworkView:
        import numpy as np

        info.context.require_viewer()
        if not 1 <= max_segments <= MAX_SEGMENTS:
            raise bad_input("maxSegments", f"maxSegments must be in 1..{MAX_SEGMENTS}")
        if bbox is not None:
            _check_bbox(bbox)
        net, seg = await _cached_segments(info.context)
        if bbox is None:
            idx = np.arange(len(seg.polylines))
        else:
            hit = (
                (seg.north >= bbox.south)
                & (seg.south <= bbox.north)
                & (seg.east >= bbox.west)
                & (seg.west <= bbox.east)
            )
            idx = np.flatnonzero(hit)
        lat_lo, lon_lo, lat_hi, lon_hi = net.bounds
        chosen = idx[:max_segments].tolist()
        return RoadNetworkView(
            region=net.region_name,
            bounds=BBox(south=lat_lo, west=lon_lo, north=lat_hi, east=lon_hi),
            segments=[seg.polylines[i] for i in chosen],
            segment_count=len(chosen),
            truncated=len(idx) > max_segments,
            attribution=OSM_ATTRIBUTION,
        )

    @strawberry.field(
        description="Territory outlines of an alignment (default: the active ones the caller "
        "may see). A rep gets only their own territory."
    )
    async def territory_outlines(
        self, info: Info[Context, None], alignment_id: strawberry.ID | None = None
    ) -> list[TerritoryOutline]:
        ctx = info.context
        viewer = ctx.require_viewer()
        alignment_ids = await _alignment_ids(ctx, viewer, alignment_id)
        if not alignment_ids:
            return []
        query = (
            select(models.Territory, models.User.full_name)
            .outerjoin(models.Rep, models.Rep.id == models.Territory.rep_id)
            .outerjoin(models.User, models.User.id == models.Rep.user_id)
            .where(models.Territory.alignment_id.in_(alignment_ids))
            .order_by(models.Territory.alignment_id, models.Territory.id)
        )
        if not (viewer.is_admin or viewer.is_manager):
            query = query.where(models.Territory.rep_id == viewer.rep_id)
        territories = (await ctx.session.execute(query)).all()
        points: dict[int, list[tuple[float, float]]] = defaultdict(list)
        ids = [t.id for t, _ in territories]
        if ids:
            rows = await ctx.session.execute(
                select(
                    models.TerritoryAssignment.territory_id, models.Account.lon, models.Account.lat
                )
                .join(models.Account, models.Account.id == models.TerritoryAssignment.account_id)
                .where(
                    models.TerritoryAssignment.territory_id.in_(ids),
                    policy.accounts_visible_to(viewer)
                    if viewer.is_admin or viewer.is_manager
                    else models.Account.team_id == viewer.team_id,
                )
            )
            for territory_id, lon, lat in rows:
                points[int(territory_id)].append((float(lon), float(lat)))
        out: list[TerritoryOutline] = []
        for territory, rep_name in territories:
            stored = _stored(territory.outline) if territory.outline else None
            out.append(
                TerritoryOutline(
                    territory_id=strawberry.ID(str(territory.id)),
                    alignment_id=strawberry.ID(str(territory.alignment_id)),
                    name=territory.name,
                    rep_id=strawberry.ID(str(territory.rep_id))
                    if territory.rep_id is not None
                    else None,
                    rep_name=rep_name,
                    account_count=len(points[territory.id]),
                    geojson=stored if stored is not None else _hull(points[territory.id]),
                    derived=stored is None,
                )
            )
        return out


__all__ = ["BBox", "BBoxInput", "MapQuery", "RoadNetworkView", "TerritoryOutline"]
