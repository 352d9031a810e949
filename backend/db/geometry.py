"""Geometry columns that are PostGIS ``geometry`` on PostgreSQL and WKB on SQLite.

Repositories hand them ``(lat, lon)`` tuples (points) or WKT (outlines) and get the same back,
so no caller needs to know which backend runs. Spatial filters use the GiST index on PostGIS and
plain lat/lon on SQLite (see ``backend.db.spatial``).
"""

from __future__ import annotations

from typing import Any, TypeVar

from geoalchemy2 import Geometry
from geoalchemy2.elements import WKBElement
from shapely import wkb, wkt
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

LatLon = tuple[float, float]
T = TypeVar("T")


def _decode(value: Any) -> BaseGeometry:
    """Shapely geometry from what either driver returns (WKBElement, hex string or bytes)."""
    if isinstance(value, WKBElement):
        return wkb.loads(bytes(value.data))
    if isinstance(value, str):
        return wkb.loads(bytes.fromhex(value))
    return wkb.loads(bytes(value))


class _SpatialColumn(TypeDecorator[T]):
    """PostGIS geometry of ``geometry_type`` on PostgreSQL, WKB bytes elsewhere."""

    impl = LargeBinary
    cache_ok = True
    geometry_type = "GEOMETRY"
    # Read by GeoAlchemy2's DDL hooks: we create GiST indexes ourselves in the migration.
    use_typmod = None
    spatial_index = False
    use_N_D_index = False  # noqa: N815 - GeoAlchemy2's attribute name

    def load_dialect_impl(self, dialect: Dialect | None) -> TypeEngine[Any]:
        geometry = Geometry(geometry_type=self.geometry_type, srid=4326, spatial_index=False)
        if dialect is None:  # GeoAlchemy2's DDL hooks probe with dialect=None on PostgreSQL
            return geometry
        if dialect.name == "postgresql":
            return dialect.type_descriptor(geometry)
        return dialect.type_descriptor(LargeBinary())

    def _bind(self, geometry: BaseGeometry, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            return f"SRID=4326;{geometry.wkt}"
        return wkb.dumps(geometry)


class GeoPoint(_SpatialColumn[LatLon]):
    """``(lat, lon)`` stored as a WGS84 point (x = lon, y = lat)."""

    geometry_type = "POINT"
    # SQLAlchemy reads ``cache_ok`` from each class's own namespace, not from a base class:
    # without it every statement touching a location is compiled anew on every execution.
    cache_ok = True

    def process_bind_param(self, value: LatLon | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        lat, lon = value
        if dialect.name == "postgresql":  # repr keeps every digit of the float
            return f"SRID=4326;POINT({lon!r} {lat!r})"
        return self._bind(Point(lon, lat), dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> LatLon | None:
        if value is None:
            return None
        point = _decode(value)
        return (float(point.y), float(point.x))  # type: ignore[attr-defined]


class GeoPolygon(_SpatialColumn[str]):
    """A territory outline: WKT in Python, any geometry in the database."""

    cache_ok = True  # see GeoPoint

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return self._bind(wkt.loads(value), dialect)

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return str(_decode(value).wkt)
