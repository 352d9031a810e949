"""The compiled network: flat numpy arrays, their on-disk format, and compilation from OSMnx.

A NetworkX graph of a region costs seconds to build and hundreds of bytes per edge; the same
network as CSR arrays (int32 indices, float32 seconds and metres) loads from an uncompressed
``.npz`` in milliseconds and feeds SciPy's compiled Dijkstra directly. Everything the engine
needs at run time is here, so a server never imports OSMnx once the region is cached.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from routing.network.errors import CorruptExtractError

#: Bump when the arrays or their meaning change: old cache files are then ignored, not misread.
FORMAT_VERSION = 1

I32 = NDArray[np.int32]
I64 = NDArray[np.int64]
F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class CompiledGraph:
    """A drivable road network as flat arrays.

    Edges are directed and sorted by tail node, so ``indptr`` is their CSR row pointer: the
    edges leaving node ``i`` are ``indptr[i]:indptr[i+1]``. Parallel edges (two roads between
    the same intersections) are all kept, because a point may lie on either. ``dij_*`` is the
    same graph with parallel edges and self-loops reduced to the fastest one, which is what a
    shortest-path search needs (SciPy would otherwise *add* duplicate entries).

    Attributes:
        node_osmid: OSM id of each node.
        node_lat: Latitude of each node.
        node_lon: Longitude of each node.
        indptr: CSR row pointer over edges, ``node_count + 1`` entries.
        edge_src: Tail node of each edge.
        edge_dst: Head node of each edge (the CSR column indices).
        edge_seconds: Drive time of each edge.
        edge_metres: Length of each edge.
        edge_reverse: Index of the same road in the opposite direction, -1 for one-way edges.
        edge_way: OSM id of (the first) way the edge comes from.
        geom_offsets: Edge ``e``'s geometry is ``geom_lat/lon[geom_offsets[e]:geom_offsets[e+1]]``,
            from tail to head, endpoints included.
        geom_lat: Latitudes of all edge geometries.
        geom_lon: Longitudes of all edge geometries.
        dij_indptr: CSR row pointer of the reduced graph.
        dij_indices: Head nodes of the reduced graph.
        dij_seconds: Drive time of each reduced edge.
        dij_metres: Length of each reduced edge.
        dij_edge: The edge (index into ``edge_*``) each reduced edge stands for.
        meta: JSON-serialisable facts (content hash, profile version, region name...).
    """

    node_osmid: I64
    node_lat: F64
    node_lon: F64
    indptr: I32
    edge_src: I32
    edge_dst: I32
    edge_seconds: F32
    edge_metres: F32
    edge_reverse: I32
    edge_way: I64
    geom_offsets: I64
    geom_lat: F64
    geom_lon: F64
    dij_indptr: I32
    dij_indices: I32
    dij_seconds: F32
    dij_metres: F32
    dij_edge: I32
    meta: dict[str, Any]

    @property
    def node_count(self) -> int:
        """Number of intersections (graph nodes)."""
        return int(self.node_lat.shape[0])

    @property
    def edge_count(self) -> int:
        """Number of directed edges, parallel edges included."""
        return int(self.edge_dst.shape[0])


_ARRAY_FIELDS = tuple(f for f in CompiledGraph.__slots__ if f != "meta")  # type: ignore[attr-defined]


def save_compiled(graph: CompiledGraph, path: Path) -> None:
    """Write ``graph`` to ``path`` atomically (a half-written cache file is never read).

    Uncompressed on purpose: ``np.load`` then just copies bytes, which is what keeps a cached
    start well under a second.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, Any] = {name: getattr(graph, name) for name in _ARRAY_FIELDS}
    arrays["meta"] = np.array(json.dumps(graph.meta, sort_keys=True))
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, **arrays)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_compiled(path: Path) -> CompiledGraph:
    """Read a cache file written by :func:`save_compiled`.

    Raises:
        CorruptExtractError: The cache file is unreadable or from another format version
            (callers treat this as a cache miss and rebuild).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"][()]))
            if meta.get("format_version") != FORMAT_VERSION:
                msg = f"cache file {path} has format {meta.get('format_version')}"
                raise CorruptExtractError(msg)
            arrays = {name: data[name] for name in _ARRAY_FIELDS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        msg = f"cache file {path} is unreadable: {exc}"
        raise CorruptExtractError(msg) from exc
    return CompiledGraph(meta=meta, **arrays)


def _first_int(value: Any) -> int:
    if isinstance(value, list):
        value = value[0] if value else -1
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def compile_graph(graph: Any, meta: dict[str, Any]) -> CompiledGraph:
    """Compile an OSMnx ``MultiDiGraph`` with ``travel_time`` and ``length`` on every edge.

    Args:
        graph: The drivable graph (nodes with ``x``/``y``, edges with ``length``,
            ``travel_time`` and, for simplified edges, a shapely ``geometry``).
        meta: Facts stored with the arrays; ``format_version`` is added.
    """
    osmids = np.fromiter(graph.nodes, dtype=np.int64, count=graph.number_of_nodes())
    osmids.sort()
    index = {int(osmid): i for i, osmid in enumerate(osmids)}
    node_lat = np.array([graph.nodes[int(n)]["y"] for n in osmids], dtype=np.float64)
    node_lon = np.array([graph.nodes[int(n)]["x"] for n in osmids], dtype=np.float64)

    src: list[int] = []
    dst: list[int] = []
    seconds: list[float] = []
    metres: list[float] = []
    ways: list[int] = []
    geoms: list[list[tuple[float, float]]] = []
    for u, v, data in graph.edges(data=True):
        iu, iv = index[u], index[v]
        geometry = data.get("geometry")
        if geometry is not None:
            coords = [(float(y), float(x)) for x, y in geometry.coords]
        else:
            coords = [(node_lat[iu], node_lon[iu]), (node_lat[iv], node_lon[iv])]
        src.append(iu)
        dst.append(iv)
        seconds.append(float(data["travel_time"]))
        metres.append(float(data["length"]))
        ways.append(_first_int(data.get("osmid")))
        geoms.append([(float(a), float(b)) for a, b in coords])

    edge_src = np.asarray(src, dtype=np.int32)
    edge_dst = np.asarray(dst, dtype=np.int32)
    edge_seconds = np.asarray(seconds, dtype=np.float32)
    edge_metres = np.asarray(metres, dtype=np.float32)
    order = np.lexsort((edge_seconds, edge_dst, edge_src))
    edge_src, edge_dst = edge_src[order], edge_dst[order]
    edge_seconds, edge_metres = edge_seconds[order], edge_metres[order]
    edge_way = np.asarray(ways, dtype=np.int64)[order]
    geoms = [geoms[int(i)] for i in order]

    lengths = np.array([len(g) for g in geoms], dtype=np.int64)
    geom_offsets = np.zeros(len(geoms) + 1, dtype=np.int64)
    np.cumsum(lengths, out=geom_offsets[1:])
    flat = np.array([p for g in geoms for p in g], dtype=np.float64).reshape(-1, 2)

    # Pair each edge with the same road driven the other way: same nodes reversed and the
    # same geometry reversed (OSMnx builds both directions of a two-way way from one node list).
    by_shape: dict[tuple[int, int, tuple[tuple[float, float], ...]], int] = {}
    for e, g in enumerate(geoms):
        by_shape.setdefault((int(edge_src[e]), int(edge_dst[e]), tuple(g)), e)
    edge_reverse = np.full(len(geoms), -1, dtype=np.int32)
    for e, g in enumerate(geoms):
        twin = by_shape.get((int(edge_dst[e]), int(edge_src[e]), tuple(reversed(g))), -1)
        if twin != e:
            edge_reverse[e] = twin

    n = osmids.shape[0]
    indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(edge_src, minlength=n), out=indptr[1:])

    # Reduced graph for Dijkstra: the fastest of each group of parallel edges, no self-loops.
    # Edges are sorted by (src, dst, seconds), so the first of each (src, dst) run is fastest.
    keep = edge_src != edge_dst
    first = np.ones(len(geoms), dtype=bool)
    first[1:] = (edge_src[1:] != edge_src[:-1]) | (edge_dst[1:] != edge_dst[:-1])
    dij_edge = np.flatnonzero(keep & first).astype(np.int32)
    dij_indptr = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(edge_src[dij_edge], minlength=n), out=dij_indptr[1:])

    compiled = CompiledGraph(
        node_osmid=osmids,
        node_lat=node_lat,
        node_lon=node_lon,
        indptr=indptr,
        edge_src=edge_src,
        edge_dst=edge_dst,
        edge_seconds=edge_seconds,
        edge_metres=edge_metres,
        edge_reverse=edge_reverse,
        edge_way=edge_way,
        geom_offsets=geom_offsets,
        geom_lat=np.ascontiguousarray(flat[:, 0]),
        geom_lon=np.ascontiguousarray(flat[:, 1]),
        dij_indptr=dij_indptr,
        dij_indices=edge_dst[dij_edge],
        dij_seconds=edge_seconds[dij_edge],
        dij_metres=edge_metres[dij_edge],
        dij_edge=dij_edge,
        meta={**meta, "format_version": FORMAT_VERSION},
    )
    from routing.network.network import diameter_bound_s

    compiled.meta["diameter_bound_s"] = diameter_bound_s(compiled)
    return compiled


__all__ = ["FORMAT_VERSION", "CompiledGraph", "compile_graph", "load_compiled", "save_compiled"]
