"""Loading a region: from a local extract or an OSMnx place/bounding box, cached on disk.

The expensive part (parse, build the graph with OSMnx, compile) runs once per extract content
and speed profile. The result is an uncompressed ``.npz`` named by the extract's SHA-256, the
profile version and the array format version, so a second start only hashes the file and
copies arrays, and a changed extract, profile or format can never serve stale travel times.
Small regions also get an all-pairs node table (``<same name>.table-<digest>.npy``, see
:mod:`._table`), computed with the build and memory-mapped on the first matrix after a load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from routing.network._compiled import FORMAT_VERSION, compile_graph, load_compiled, save_compiled
from routing.network._extract import (
    build_drive_graph,
    check_extract_path,
    content_hash,
    finish_graph,
    region_name_of,
)
from routing.network._table import DEFAULT_TABLE_MAX_NODES
from routing.network.errors import CorruptExtractError, RegionDownloadError
from routing.network.network import RoadNetwork
from routing.network.speeds import DEFAULT_SPEED_PROFILE, SpeedProfile

Progress = Callable[[str, float], None]
BBox = tuple[float, float, float, float]


def _silent(_stage: str, _fraction: float) -> None:
    return None


def default_cache_dir() -> Path:
    """``<user cache>/fieldrep/routing``, e.g. ``~/.cache/fieldrep/routing`` on Linux."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("fieldrep")) / "routing"


def cache_path(cache_dir: Path, key: str, speeds: SpeedProfile) -> Path:
    """Cache file of one (content hash, speed profile version, format version)."""
    return cache_dir / f"{key[:32]}_{speeds.version}_f{FORMAT_VERSION}.npz"


def _from_cache(
    path: Path, *, name: str, source: str, progress: Progress, table_max_nodes: int
) -> RoadNetwork | None:
    if not path.is_file():
        return None
    progress("loading the cached network", 0.5)
    try:
        graph = load_compiled(path)
    except CorruptExtractError:
        return None  # unreadable or older format: rebuild and overwrite
    progress("loaded from cache", 1.0)
    return RoadNetwork(
        graph,
        region_name=name,
        source=source,
        from_cache=True,
        table_max_nodes=table_max_nodes,
        cache_file=path,
    )


def load_region(
    path: Path,
    cache_dir: Path | None = None,
    speeds: SpeedProfile | None = None,
    progress: Progress | None = None,
    *,
    table_max_nodes: int = DEFAULT_TABLE_MAX_NODES,
) -> RoadNetwork:
    """Load the drivable road network of an OSM extract, building and caching it if needed.

    Args:
        path: A ``.osm.pbf``, ``.osm`` or ``.osm.bz2`` extract.
        cache_dir: Where compiled networks live; default :func:`default_cache_dir`.
        speeds: Speed profile; default :data:`DEFAULT_SPEED_PROFILE`.
        progress: Called with (stage description, fraction 0..1) as work proceeds.
        table_max_nodes: Regions with at most this many intersections get an all-pairs node
            table (``8 * nodes**2`` bytes; default 3,500 nodes, 98 MB), computed with the build
            and cached beside it; see :class:`RoadNetwork`. 0 turns it off.

    Raises:
        ExtractNotFoundError: ``path`` is not a file.
        UnsupportedExtractError: Unknown file type.
        CorruptExtractError: Empty, truncated or not OSM data.
        NoDrivableRoadsError: No drivable roads in the extract.
    """
    path = Path(path)
    speeds = speeds or DEFAULT_SPEED_PROFILE
    report = progress or _silent
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    check_extract_path(path)
    report(f"hashing {path.name}", 0.0)
    digest = content_hash(path)
    target = cache_path(cache_dir, digest, speeds)
    name = region_name_of(path)
    cached = _from_cache(
        target, name=name, source=str(path), progress=report, table_max_nodes=table_max_nodes
    )
    if cached is not None:
        return cached
    graph = build_drive_graph(path, speeds, report)
    meta = {
        "content_hash": digest,
        "speed_profile_version": speeds.version,
        "region_name": name,
        "source": path.name,
    }
    return _compile_and_store(
        graph,
        meta,
        target,
        name=name,
        source=str(path),
        progress=report,
        table_max_nodes=table_max_nodes,
    )


def _compile_and_store(
    graph: Any,
    meta: dict[str, Any],
    target: Path,
    *,
    name: str,
    source: str,
    progress: Progress,
    table_max_nodes: int,
) -> RoadNetwork:
    progress("compiling to arrays", 0.85)
    compiled = compile_graph(graph, meta)
    progress("writing the cache", 0.9)
    save_compiled(compiled, target)
    net = RoadNetwork(
        compiled,
        region_name=name,
        source=source,
        from_cache=False,
        table_max_nodes=table_max_nodes,
        cache_file=target,
    )
    if net.uses_table:
        progress("precomputing drive times between all intersections", 0.95)
        net.ensure_table(recompute=True)
    progress("built", 1.0)
    return net


def load_place(
    query: str | BBox,
    cache_dir: Path | None = None,
    speeds: SpeedProfile | None = None,
    progress: Progress | None = None,
    *,
    refresh: bool = False,
    table_max_nodes: int = DEFAULT_TABLE_MAX_NODES,
) -> RoadNetwork:
    """Download a region through OSMnx (needs the internet on first use), cached on disk.

    OSM changes daily, so the cache is keyed by the query itself (its SHA-256 stands in for
    the content hash) and kept until ``refresh=True``: a server restart must not silently pick
    up new travel times mid-season.

    Args:
        query: A place name that Nominatim resolves to a polygon ("Vaduz, Liechtenstein"), or a
            bounding box ``(min_lat, min_lon, max_lat, max_lon)`` like :attr:`RoadNetwork.bounds`.
        cache_dir: As for :func:`load_region`.
        speeds: As for :func:`load_region`.
        progress: As for :func:`load_region`.
        refresh: Download again even if cached.
        table_max_nodes: As for :func:`load_region`.

    Raises:
        RegionDownloadError: Offline, unknown place, or Overpass failed.
        NoDrivableRoadsError: The area has no connected drivable roads.
        InvalidCoordinateError: A bounding box with bad or inverted coordinates.
    """
    speeds = speeds or DEFAULT_SPEED_PROFILE
    report = progress or _silent
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    if isinstance(query, str):
        if not query.strip():
            msg = "place query is empty"
            raise RegionDownloadError(msg)
        key_payload: Any = {"place": query.strip()}
        name = query.strip()
    else:
        from routing.network.errors import InvalidCoordinateError
        from routing.network.network import validate_coordinate

        min_lat, min_lon = validate_coordinate(query[0], query[1])
        max_lat, max_lon = validate_coordinate(query[2], query[3])
        if not (min_lat < max_lat and min_lon < max_lon):
            msg = f"bounding box {query} must be (min_lat, min_lon, max_lat, max_lon)"
            raise InvalidCoordinateError(msg)
        key_payload = {"bbox": [min_lat, min_lon, max_lat, max_lon]}
        name = f"bbox {min_lat:.4f},{min_lon:.4f},{max_lat:.4f},{max_lon:.4f}"
    digest = hashlib.sha256(json.dumps(key_payload, sort_keys=True).encode()).hexdigest()
    target = cache_path(cache_dir, digest, speeds)
    if not refresh:
        cached = _from_cache(
            target, name=name, source=name, progress=report, table_max_nodes=table_max_nodes
        )
        if cached is not None:
            return cached
    import osmnx as ox

    report(f"downloading {name} from OpenStreetMap (osmnx)", 0.05)
    try:
        if isinstance(query, str):
            graph = ox.graph_from_place(query, network_type="drive", simplify=True, retain_all=True)
        else:
            lat0, lon0, lat1, lon1 = key_payload["bbox"]
            graph = ox.graph_from_bbox(
                (lon0, lat0, lon1, lat1), network_type="drive", simplify=True, retain_all=True
            )
    except Exception as exc:  # network errors, Nominatim/Overpass failures: many types
        msg = (
            f"could not download {name} through OSMnx ({type(exc).__name__}: {exc}); "
            "this needs the internet: use a local extract with load_region() when offline"
        )
        raise RegionDownloadError(msg) from exc
    graph = finish_graph(graph, speeds, report, source=name)
    meta = {
        "content_hash": digest,
        "speed_profile_version": speeds.version,
        "region_name": name,
        "source": json.dumps(key_payload),
    }
    return _compile_and_store(
        graph,
        meta,
        target,
        name=name,
        source=name,
        progress=report,
        table_max_nodes=table_max_nodes,
    )


__all__ = ["cache_path", "default_cache_dir", "load_place", "load_region"]
