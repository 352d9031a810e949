"""Recording imported OSM regions (the road network itself is cached by :mod:`routing`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from backend.db.models import Region
from backend.runtime import Runtime
from backend.settings import Settings

if TYPE_CHECKING:
    from routing.network import RoadNetwork


async def record_region(
    settings: Settings, path: Path, net: RoadNetwork, *, make_default: bool
) -> Region:
    """Insert or refresh the region row for ``path``; optionally make it the default."""
    runtime = Runtime.create(settings)
    try:
        async with runtime.sessionmaker() as session, session.begin():
            name = path.name.split(".")[0]
            region = await session.scalar(select(Region).where(Region.name == name))
            min_lat, min_lon, max_lat, max_lon = net.bounds
            values = {
                "path": str(path),
                "content_hash": net.content_hash,
                "node_count": net.node_count,
                "min_lat": min_lat,
                "min_lon": min_lon,
                "max_lat": max_lat,
                "max_lon": max_lon,
            }
            if make_default:
                await session.execute(update(Region).values(is_default=False))
            if region is None:
                region = Region(name=name, is_default=make_default, **values)
                session.add(region)
            else:
                for key, value in values.items():
                    setattr(region, key, value)
                region.is_default = make_default or region.is_default
            await session.flush()
            return region
    finally:
        await runtime.close()
