"""Spatial filters that run in SQL on PostGIS and in Python (Shapely-free haversine) on SQLite.

PostGIS uses ``ST_DWithin`` on the geography cast, which the ``ix_accounts_location_geog`` GiST
index serves. SQLite narrows with a bounding box on the plain lat/lon columns, then filters
exactly by great-circle distance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy import ColumnElement, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Account

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bounding_box(lat: float, lon: float, radius_m: float) -> tuple[float, float, float, float]:
    """A lat/lon box that contains the circle (for the index-friendly SQLite prefilter)."""
    dlat = math.degrees(radius_m / EARTH_RADIUS_M)
    dlon = math.degrees(radius_m / (EARTH_RADIUS_M * max(math.cos(math.radians(lat)), 1e-6)))
    return lat - dlat, lon - dlon, lat + dlat, lon + dlon


def near_clause(dialect: str, lat: float, lon: float, radius_m: float) -> ColumnElement[bool]:
    """WHERE clause for 'within radius_m of (lat, lon)'; exact on PostGIS, a box on SQLite."""
    if dialect == "postgresql":
        point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), 4326)
        return func.ST_DWithin(
            Account.location.op("::")(literal_column("geography")),
            point.op("::")(literal_column("geography")),
            radius_m,
        )
    min_lat, min_lon, max_lat, max_lon = bounding_box(lat, lon, radius_m)
    return Account.lat.between(min_lat, max_lat) & Account.lon.between(min_lon, max_lon)


async def accounts_near(
    session: AsyncSession,
    lat: float,
    lon: float,
    radius_m: float,
    visible: ColumnElement[bool],
    limit: int = 100,
) -> Sequence[tuple[Account, float]]:
    """Visible accounts within ``radius_m``, nearest first, with their distance in metres."""
    dialect = session.get_bind().dialect.name
    query = select(Account).where(visible, near_clause(dialect, lat, lon, radius_m))
    rows = (await session.execute(query)).scalars().all()
    hits = [(a, haversine_m(lat, lon, a.lat, a.lon)) for a in rows]
    hits = [(a, d) for a, d in hits if d <= radius_m]
    hits.sort(key=lambda pair: (pair[1], pair[0].id))
    return hits[:limit]


SQL_RADIUS_SLACK = 1.01
"""PostGIS measures on the spheroid, Python on the sphere (up to 0.5 % apart): the SQL filter
runs on a slightly larger radius so it never drops a point the exact haversine test keeps."""


async def account_distances_within(
    session: AsyncSession,
    lat: float,
    lon: float,
    radius_m: float,
    visible: ColumnElement[bool],
) -> dict[int, float]:
    """Ids of visible accounts within ``radius_m`` of (lat, lon) with their distance in metres.

    The narrowing runs in SQL (``ST_DWithin`` on the GiST-indexed geography on PostGIS, a
    lat/lon box on SQLite); the final cut is the same haversine on both backends, so the two
    return exactly the same set.
    """
    dialect = session.get_bind().dialect.name
    sql_radius = radius_m * SQL_RADIUS_SLACK + 1.0 if dialect == "postgresql" else radius_m
    query = select(Account.id, Account.lat, Account.lon).where(
        visible, near_clause(dialect, lat, lon, sql_radius)
    )
    hits: dict[int, float] = {}
    for account_id, a_lat, a_lon in (await session.execute(query)).all():
        distance = haversine_m(lat, lon, a_lat, a_lon)
        if distance <= radius_m:
            hits[account_id] = distance
    return hits
