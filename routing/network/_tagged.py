"""Nodes and ways of an extract that carry a tag, each with one position.

Businesses and addresses are mapped either as a point or as a building outline; both readers
want "the tags and where it is", so the outline's vertices are averaged into one position.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from routing.network._extract import check_extract_path
from routing.network.errors import CorruptExtractError


@dataclass(frozen=True, slots=True)
class TaggedPlace:
    """One node or way: its tags, its position (a way's vertex mean) and ``node/1``-style id."""

    tags: dict[str, str]
    lat: float
    lon: float
    osm_id: str


def tagged_places(path: Path, key: str) -> Iterator[TaggedPlace]:
    """Every node and way of ``path`` with tag ``key`` and a known position, in file order.

    Raises:
        ExtractNotFoundError: ``path`` is not a file.
        UnsupportedExtractError: Unknown file type.
        CorruptExtractError: osmium cannot read the file.
    """
    import osmium

    path = Path(path)
    check_extract_path(path)
    try:
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.KeyFilter(key))
        )
        for obj in processor:
            if isinstance(obj, osmium.osm.Node):
                if not obj.location.valid():
                    continue
                lat, lon, osm_id = obj.location.lat, obj.location.lon, f"node/{obj.id}"
            elif isinstance(obj, osmium.osm.Way):
                points = [(n.lat, n.lon) for n in obj.nodes if n.location.valid()]
                if not points:
                    continue
                lat = sum(p[0] for p in points) / len(points)
                lon = sum(p[1] for p in points) / len(points)
                osm_id = f"way/{obj.id}"
            else:
                continue
            yield TaggedPlace({t.k: t.v for t in obj.tags}, float(lat), float(lon), osm_id)
    except RuntimeError as exc:
        raise CorruptExtractError(f"extract {path} could not be read as OSM data: {exc}") from exc
