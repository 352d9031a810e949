"""Reading OSM extracts: file types, content hashes, and the drivable graph via OSMnx.

OSMnx builds graphs from Overpass downloads or from OSM XML, but it cannot read ``.pbf`` and
its XML reader keeps every way it is given. So the extract is read once with osmium (C++, any
of ``.osm.pbf``/``.osm``/``.osm.bz2``), only the ways OSMnx's own ``drive`` network would keep
are written to a small temporary OSM XML file, and OSMnx builds the graph from that: the same
one-way rules, simplification and edge lengths as an online OSMnx download, at a fraction of
the parse cost.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

from routing.network.errors import (
    CorruptExtractError,
    ExtractNotFoundError,
    NoDrivableRoadsError,
    UnsupportedExtractError,
)
from routing.network.speeds import SpeedProfile

Progress = Callable[[str, float], None]

#: File name endings the engine reads, longest first (``x.osm.bz2`` must not match ``.osm``).
SUPPORTED_SUFFIXES = (".osm.pbf", ".osm.bz2", ".osm", ".pbf")

# OSMnx 2.1's ``network_type="drive"`` Overpass filter, as (tag, pattern that excludes).
# Overpass ``[k!~"re"]`` drops a way whose ``k`` matches ``re`` anywhere, hence ``re.search``.
_DRIVE_EXCLUDE: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("area", re.compile("yes")),
    ("access", re.compile("private")),
    (
        "highway",
        re.compile(
            "abandoned|bridleway|bus_guideway|construction|corridor|cycleway|elevator|escalator|"
            "footway|no|path|pedestrian|planned|platform|proposed|raceway|razed|rest_area|"
            "service|services|steps|track"
        ),
    ),
    ("motor_vehicle", re.compile("no")),
    ("motorcar", re.compile("no")),
    ("service", re.compile("alley|driveway|emergency_access|parking|parking_aisle|private")),
)

# Tags OSMnx reads from ways (``settings.useful_tags_way``) plus ``oneway`` helpers; the rest
# is dropped so the temporary XML stays small.
_KEEP_TAGS = frozenset(
    {
        "access", "area", "bridge", "est_width", "highway", "junction", "landuse", "lanes",
        "maxspeed", "maxspeed:forward", "name", "oneway", "ref", "service", "tunnel", "width",
    }
)  # fmt: skip


def region_name_of(path: Path) -> str:
    """``liechtenstein`` for ``liechtenstein.osm.pbf``, ``liechtenstein-latest`` for ``-latest``."""
    name = path.name
    for suffix in SUPPORTED_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def check_extract_path(path: Path) -> None:
    """Refuse missing files, unknown file types and empty files before any parsing."""
    if not path.name.lower().endswith(SUPPORTED_SUFFIXES):
        msg = (
            f"extract {path.name}: unsupported file type; expected one of "
            f"{', '.join(SUPPORTED_SUFFIXES[:3])} (e.g. from download.geofabrik.de)"
        )
        raise UnsupportedExtractError(msg)
    if not path.is_file():
        msg = f"extract {path} does not exist or is not a file"
        raise ExtractNotFoundError(msg)
    if path.stat().st_size == 0:
        msg = f"extract {path} is empty (0 bytes)"
        raise CorruptExtractError(msg)


def content_hash(path: Path) -> str:
    """SHA-256 of the file's bytes: the cache key survives renames and copies of an extract."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def is_drivable(tags: dict[str, str]) -> bool:
    """Whether OSMnx's ``drive`` network would keep a way with these tags."""
    if "highway" not in tags:
        return False
    return not any(
        pattern.search(tags.get(key, "")) for key, pattern in _DRIVE_EXCLUDE if key in tags
    )


def _osmium_error(path: Path, exc: Exception) -> CorruptExtractError:
    return CorruptExtractError(f"extract {path} could not be read as OSM data: {exc}")


def _has_any_element(path: Path) -> bool:
    import osmium

    try:
        for _ in osmium.FileProcessor(str(path)):
            return True
    except RuntimeError as exc:
        raise _osmium_error(path, exc) from exc
    return False


def _drivable_ways(
    path: Path,
) -> tuple[dict[int, tuple[float, float]], list[tuple[int, list[int], dict[str, str]]]]:
    """Drivable ways (split where a node lacks a location) and the locations of their nodes."""
    import osmium

    nodes: dict[int, tuple[float, float]] = {}
    ways: list[tuple[int, list[int], dict[str, str]]] = []
    synthetic_id = -1
    try:
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.KeyFilter("highway"))
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        )
        for way in processor:
            if not isinstance(way, osmium.osm.Way):
                continue
            tags = {tag.k: tag.v for tag in way.tags}
            if not is_drivable(tags):
                continue
            kept = {k: v for k, v in tags.items() if k in _KEEP_TAGS}
            runs: list[list[int]] = [[]]
            for ref in way.nodes:
                if ref.location.valid():
                    nodes[ref.ref] = (ref.lat, ref.lon)
                    runs[-1].append(ref.ref)
                elif runs[-1]:
                    runs.append([])  # a node outside the extract: do not bridge the gap
            pieces = [run for run in runs if len(run) >= 2]
            for i, run in enumerate(pieces):
                if i == 0:
                    ways.append((way.id, run, kept))
                else:
                    ways.append((synthetic_id, run, kept))
                    synthetic_id -= 1
    except RuntimeError as exc:
        raise _osmium_error(path, exc) from exc
    return nodes, ways


def _xml_lines(
    nodes: dict[int, tuple[float, float]], ways: list[tuple[int, list[int], dict[str, str]]]
) -> Iterator[str]:
    yield '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6" generator="fieldrep">\n'
    for osmid, (lat, lon) in nodes.items():
        yield f'<node id="{osmid}" lat="{lat:.7f}" lon="{lon:.7f}"/>\n'
    for osmid, refs, tags in ways:
        nds = "".join(f'<nd ref="{r}"/>' for r in refs)
        tag_xml = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items())
        yield f'<way id="{osmid}">{nds}{tag_xml}</way>\n'
    yield "</osm>\n"


def _apply_speeds(graph: Any, speeds: SpeedProfile) -> None:
    """Set ``speed_kph`` on every edge: ``maxspeed`` where usable, else the class default.

    Simplified edges can merge ways with different tags (lists); their speed is the mean of the
    usable ``maxspeed`` values, or of the class defaults, which is what OSMnx does too.
    """
    for _, _, data in graph.edges(data=True):
        raw = data.get("maxspeed")
        values = raw if isinstance(raw, list) else [raw] if raw is not None else []
        parsed = [s for v in values if (s := speeds.speed_for_maxspeed(str(v))) is not None]
        if not parsed:
            classes = data.get("highway")
            names = classes if isinstance(classes, list) else [classes]
            parsed = [float(speeds.highway_kmh.get(str(h), speeds.fallback_kmh)) for h in names]
        data["speed_kph"] = sum(parsed) / len(parsed)


def build_drive_graph(path: Path, speeds: SpeedProfile, progress: Progress) -> Any:
    """The drivable graph of an extract, with speeds and travel times (an OSMnx MultiDiGraph).

    Network type drive, simplified, largest strongly connected component (so every point can
    reach every other), one-way streets respected.

    Raises:
        CorruptExtractError: osmium cannot read the file, or it holds no OSM elements.
        NoDrivableRoadsError: no drivable ways, or none that connect into a network.
    """
    progress("reading the extract (osmium)", 0.05)
    nodes, ways = _drivable_ways(path)
    if not ways:
        if not _has_any_element(path):
            msg = f"extract {path} contains no OpenStreetMap elements (empty or truncated?)"
            raise CorruptExtractError(msg)
        msg = f"extract {path} contains no drivable roads (highway ways open to cars)"
        raise NoDrivableRoadsError(msg)
    return graph_from_ways(nodes, ways, speeds, progress, source=str(path))


def graph_from_ways(
    nodes: dict[int, tuple[float, float]],
    ways: list[tuple[int, list[int], dict[str, str]]],
    speeds: SpeedProfile,
    progress: Progress,
    *,
    source: str,
) -> Any:
    """Run OSMnx's graph construction on pre-filtered ways (through a temporary XML file)."""
    import osmnx as ox

    progress(f"building the graph from {len(ways)} drivable ways (osmnx)", 0.2)
    with tempfile.TemporaryDirectory(prefix="fieldrep-osm-") as tmp:
        xml_path = Path(tmp) / "drive.osm"
        with xml_path.open("w", encoding="utf-8") as handle:
            handle.writelines(_xml_lines(nodes, ways))
        graph = ox.graph_from_xml(xml_path, bidirectional=False, simplify=True, retain_all=True)
    return finish_graph(graph, speeds, progress, source=source)


def finish_graph(graph: Any, speeds: SpeedProfile, progress: Progress, *, source: str) -> Any:
    """Largest strongly connected component, speeds and travel times on an OSMnx graph."""
    import osmnx as ox

    progress("keeping the largest strongly connected component", 0.6)
    if graph.number_of_edges() > 0:
        graph = ox.truncate.largest_component(graph, strongly=True)
    if graph.number_of_edges() == 0 or graph.number_of_nodes() < 2:
        msg = f"{source}: the drivable roads do not form a connected network"
        raise NoDrivableRoadsError(msg)
    progress("assigning speeds and travel times", 0.7)
    _apply_speeds(graph, speeds)
    return ox.routing.add_edge_travel_times(graph)


__all__ = [
    "SUPPORTED_SUFFIXES",
    "build_drive_graph",
    "check_extract_path",
    "content_hash",
    "finish_graph",
    "is_drivable",
    "region_name_of",
]
