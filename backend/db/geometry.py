"""A point column that is PostGIS ``geometry(POINT, 4326)`` on PostgreSQL and WKB on SQLite.

Repositories hand it ``(lat, lon)`` tuples and get tuples back, so no caller needs to know which
backend runs. Spatial filters use the GiST index on PostGIS and Shapely on SQLite (see
``backend.db.spatial``).
"""

from __future__ import annotations

from typing import Any

from geoalchemy2 import Geometry
from geoalchemy2.elements import WKBElement
from shapely import wkb
from shapely.geometry import Point
from sqlalchemy import LargeBinary
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

LatLon = tuple[float, float]


class GeoPoint(TypeDecorator[LatLon]):
    """``(lat, lon)`` stored as a WGS84 point (x = lon, y = lat)."""

    impl = LargeBinary
    cache_ok = True
    # Read by GeoAlchemy2's DDL hooks: we create GiST indexes ourselves in the migration.
    use_typmod = None
    spatial_index = False
    use_N_D_index = False  # noqa: N815 - GeoAlchemy2's attribute name

    def load_dialect_impl(self, dialect: Dialect | None) -> TypeEngine[Any]:
        # GeoAlchemy2's DDL hooks probe with dialect=None on PostgreSQL.
        if dialect is None:
            return Geometry(geometry_type="POINT", srid=4326, spatial_index=False)
        if dialect.name == "postgresql":
            return dialect.type_descriptor(
                Geometry(geometry_type="POINT", srid=4326, spatial_index=False)
            )
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: LatLon | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        lat, lon = value
        if dialect.name == "postgresql":
            return f"SRID=4326;POINT({lon!r} {lat!r})"
        return wkb.dumps(Point(lon, lat))

    def process_result_value(self, value: Any, dialect: Dialect) -> LatLon | None:
        if value is None:
            return None
        if isinstance(value, WKBElement):
            point = wkb.loads(bytes(value.data))
        elif isinstance(value, str):
            point = wkb.loads(bytes.fromhex(value))
        else:
            point = wkb.loads(bytes(value))
        return (float(point.y), float(point.x))


class GeoPolygon(TypeDecorator[str]):
    """A territory outline as WKT in Python; PostGIS geometry or WKB on SQLite."""

    impl = LargeBinary
    cache_ok = True
    # Read by GeoAlchemy2's DDL hooks: we create GiST indexes ourselves in the migration.
    use_typmod = None
    spatial_index = False
    use_N_D_index = False  # noqa: N815 - GeoAlchemy2's attribute name

    def load_dialect_impl(self, dialect: Dialect | None) -> TypeEngine[Any]:
        if dialect is None:
            return Geometry(geometry_type="GEOMETRY", srid=4326, spatial_index=False)
        if dialect.name == "postgresql":
            return dialect.type_descriptor(
                Geometry(geometry_type="GEOMETRY", srid=4326, spatial_index=False)
            )
        return dialect.type_descriptor(LargeBinary())

    def process_bind_param(self, value: str | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return f"SRID=4326;{value}"
        from shapely import wkt

        return wkb.dumps(wkt.loads(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if isinstance(value, WKBElement):
            geom = wkb.loads(bytes(value.data))
        elif isinstance(value, str):
            geom = wkb.loads(bytes.fromhex(value))
        else:
            geom = wkb.loads(bytes(value))
        return str(geom.wkt)
