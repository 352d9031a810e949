"""The loaded road network: snapping, travel matrices, paths and one-to-all searches.

A :class:`RoadNetwork` wraps the compiled arrays of one region (see :mod:`._compiled`). Points
are placed *on edges*, not on nodes: a bakery halfway along a 600 m street is 300 m from either
end, and on a one-way street the car can only leave in one direction. Each snapped point
becomes a virtual node joined to the ends of its edge by partial-edge costs, and SciPy's
compiled Dijkstra runs from each source's virtual node over the whole graph at once. Target
costs then come from the tails of the targets' edges plus their partial edges, and a target on
the same edge ahead of the source is reached directly.

Small regions (up to ``table_max_nodes`` intersections, default 3,500) skip the searches: an
all-pairs node table (see :mod:`._table`), computed once and cached on disk, turns the
source's departures into row gathers with the same exact arithmetic, so the matrix is the
one the searches would give, bit for bit.

Example:
    >>> net = load_region(Path("routing/data/liechtenstein.osm.pbf"))  # doctest: +SKIP
    >>> a, b = net.snap_many([(47.141, 9.521), (47.166, 9.509)], labels=["shop", "office"])
    >>> m = net.travel_matrix([a, b], [a, b])
    >>> m.seconds[0, 1], m.metres[0, 1]
"""

from __future__ import annotations

import contextlib
import itertools
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from routing.network import _table
from routing.network._compiled import CompiledGraph
from routing.network._geo import LocalProjection, haversine_m
from routing.network.errors import InvalidCoordinateError, PointOffNetworkError, RoutingError
from routing.network.model import RoutePath, Snap, TravelMatrix

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
B = NDArray[np.bool_]

#: Floor for edge weights handed to SciPy: a stored zero in a sparse graph is ambiguous (edge or
#: no edge?), and zero-length edges and snaps exactly on a node would produce them.
_MIN_WEIGHT = 1e-9
#: Elements per batch of Dijkstra rows (sources x nodes); bounds memory on large regions.
_BATCH_ELEMENTS = 1 << 22
#: Elements per chunk of matrix rows gathered at once: small enough to stay in the CPU cache.
_CHUNK_ELEMENTS = 1 << 15


@dataclass(frozen=True, slots=True)
class _Encoding:
    """Seconds and metres packed into one exactly-summable float64 edge weight.

    ``weight = round(seconds / second_unit) * scale + round(metres / metre_unit)``, with
    ``scale`` a power of two above the longest possible route in metre units. Sums of such
    integers stay exact below 2**53, so one Dijkstra finds the fastest route (ties broken by
    the shorter one) *and* its length, where separate bookkeeping of metres along the
    shortest-path tree would cost more than the search itself. Times are then exact to half
    a ``second_unit`` (0.1 ms on regions up to a few hundred km) per edge.
    """

    second_unit: float
    metre_unit: float
    scale: float

    @classmethod
    def for_network(cls, max_route_s: float, max_speed_mps: float) -> _Encoding:
        """Finest units whose worst-case route fits 52 bits (route <= max_route_s)."""
        bound_s = max_route_s * 1.1 + 10.0
        bound_m = bound_s * max_speed_mps * 1.1 + 10.0
        for metre_unit in (0.1, 1.0, 10.0):
            metre_bits = math.ceil(math.log2(bound_m / metre_unit + 2))
            for second_unit in (1e-4, 1e-3, 1e-2, 1e-1):
                if metre_bits + math.ceil(math.log2(bound_s / second_unit + 2)) <= 52:
                    return cls(second_unit, metre_unit, float(2**metre_bits))
        msg = f"region too large to encode routes of {bound_s:.0f} s"
        raise RoutingError(msg)

    def encode(self, seconds: F64, metres: F64) -> F64:
        """Edge weights (never 0: SciPy reads a stored zero as no edge)."""
        weight = np.rint(seconds / self.second_unit) * self.scale + np.rint(
            metres / self.metre_unit
        )
        return np.maximum(weight, 1.0)

    def decode(self, weight: F64) -> tuple[F64, F64]:
        """``(seconds, metres)`` of summed weights; ``inf`` stays ``inf``."""
        units = np.divide(weight, self.scale)
        np.floor(units, out=units)
        seconds = units * self.second_unit
        metres = np.multiply(units, self.scale, out=units)
        with np.errstate(invalid="ignore"):  # inf - inf where unreachable: fixed below
            np.subtract(weight, metres, out=metres)
        metres *= self.metre_unit
        if not np.isfinite(seconds).all():
            metres[np.isinf(seconds)] = np.inf
        return seconds, metres

    def fingerprint(self, node_count: int) -> str:
        """Digest naming a node table stored in this encoding (see :mod:`._table`)."""
        return _table.fingerprint(node_count, self.second_unit, self.metre_unit, self.scale)


def diameter_bound_s(graph: CompiledGraph) -> float:
    """An upper bound on any node-to-node drive time: out- plus in-eccentricity of node 0.

    ``d(a, b) <= d(a, 0) + d(0, b)``; two searches, stored at compile time.
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import dijkstra

    n = graph.node_count
    weights = np.maximum(graph.dij_seconds.astype(np.float64), _MIN_WEIGHT)
    csr = csr_matrix((weights, graph.dij_indices, graph.dij_indptr), shape=(n, n))
    out = np.asarray(dijkstra(csr, directed=True, indices=0))
    into = np.asarray(dijkstra(csr.T.tocsr(), directed=True, indices=0))
    reach = np.isfinite(out) & np.isfinite(into)
    return float(out[reach].max() + into[reach].max())


def _describe(label: str | None, lat: float, lon: float) -> str:
    return f"account '{label}'" if label is not None else f"point ({lat:.6f}, {lon:.6f})"


def validate_coordinate(lat: float, lon: float, label: str | None = None) -> tuple[float, float]:
    """Return ``(lat, lon)`` as floats, or raise naming the bad value.

    Raises:
        InvalidCoordinateError: NaN, infinite, latitude outside [-90, 90] or longitude outside
            [-180, 180], or not a number at all.
    """
    who = f" of account '{label}'" if label is not None else ""
    values: list[float] = []
    for name, raw, bound in (("latitude", lat, 90.0), ("longitude", lon, 180.0)):
        try:
            value = float(raw)
        except (TypeError, ValueError):
            msg = f"{name}{who} is not a number: {raw!r}"
            raise InvalidCoordinateError(msg, label=label, value=None) from None
        if math.isnan(value) or math.isinf(value):
            msg = f"{name}{who} is {value} (a finite number of degrees is needed)"
            raise InvalidCoordinateError(msg, label=label, value=value)
        if abs(value) > bound:
            msg = f"{name}{who} is {value}, outside [-{bound:g}, {bound:g}]"
            raise InvalidCoordinateError(msg, label=label, value=value)
        values.append(value)
    return values[0], values[1]


def _best_arrivals(
    rows_s: F64, rows_m: F64, col: I64, cost_s: F64, cost_m: F64, seconds: F64, metres: F64
) -> None:
    """Fill ``seconds`` and ``metres`` with the best arrival at each target, in place.

    Args:
        rows_s: Seconds from each source (row) to each column (node or gathered node).
        rows_m: Metres of those routes.
        col: ``[targets, slots]`` column of each arrival option in the rows.
        cost_s: ``[targets, slots]`` partial-edge seconds of each option (``inf``: none).
        cost_m: Partial-edge metres of each option.
        seconds: ``[len(rows), targets]`` output, all ``inf`` on entry.
        metres: Same shape as ``seconds``, all ``inf`` on entry.
    """
    filled = False
    for slot in range(col.shape[1]):
        finite = np.isfinite(cost_s[:, slot])
        count = int(np.count_nonzero(finite))
        if count == finite.size and not filled:
            # Nothing to compare with yet: gather straight into the output. (mode="clip"
            # avoids take's buffered output; the columns are valid.)
            np.take(rows_s, col[:, slot], axis=1, out=seconds, mode="clip")
            seconds += cost_s[:, slot]
            np.take(rows_m, col[:, slot], axis=1, out=metres, mode="clip")
            metres += cost_m[:, slot]
            filled = True
        elif count * 4 >= finite.size:
            # Most targets have this option; the others have cost inf and never win.
            cand_s = np.take(rows_s, col[:, slot], axis=1)
            cand_s += cost_s[:, slot]
            better = cand_s < seconds
            if better.any():
                np.copyto(seconds, cand_s, where=better)
                cand_m = np.take(rows_m, col[:, slot], axis=1)
                cand_m += cost_m[:, slot]
                np.copyto(metres, cand_m, where=better)
        elif count:
            js = np.flatnonzero(finite)
            cand_s = np.take(rows_s, col[js, slot], axis=1) + cost_s[js, slot]
            cand_m = np.take(rows_m, col[js, slot], axis=1) + cost_m[js, slot]
            sub_s, sub_m = seconds[:, js], metres[:, js]
            better = cand_s < sub_s
            seconds[:, js] = np.where(better, cand_s, sub_s)
            metres[:, js] = np.where(better, cand_m, sub_m)


def _placements(snaps: Sequence[Snap]) -> tuple[I64, F64, I64, I64]:
    """All placements of many snaps: ``(edge, fraction, snap index, 0 or 1 = reversed)``."""
    k = len(snaps)
    edge = np.fromiter((s.edge for s in snaps), dtype=np.int64, count=k)
    frac = np.fromiter((s.fraction for s in snaps), dtype=np.float64, count=k)
    rev = np.fromiter((s.reverse_edge for s in snaps), dtype=np.int64, count=k)
    two = np.flatnonzero(rev >= 0)
    return (
        np.concatenate((edge, rev[two])),
        np.concatenate((frac, 1.0 - frac[two])),
        np.concatenate((np.arange(k), two)),
        np.concatenate((np.zeros(k, dtype=np.int64), np.ones(two.size, dtype=np.int64))),
    )


class _RowCache:
    """LRU of one-to-all rows (seconds and metres to every node) keyed by source placement.

    Territory design and day planning ask about the same accounts again and again; a row costs
    one Dijkstra over the region, a lookup costs nothing. Bounded in bytes, thread-safe.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._rows: OrderedDict[tuple[int, float], tuple[F64, F64]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple[int, float]) -> tuple[F64, F64] | None:
        with self._lock:
            row = self._rows.get(key)
            if row is None:
                self.misses += 1
                return None
            self._rows.move_to_end(key)
            self.hits += 1
            return row

    def put(self, key: tuple[int, float], row: tuple[F64, F64]) -> None:
        size = row[0].nbytes + row[1].nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._rows:
                return
            self._rows[key] = row
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, old = self._rows.popitem(last=False)
                self._bytes -= old[0].nbytes + old[1].nbytes

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()
            self._bytes = 0


class RoadNetwork:
    """A region's drivable road network, ready to snap points and compute drive times.

    Build one with :func:`routing.network.load_region`; the constructor takes compiled arrays.

    Args:
        graph: The compiled arrays.
        region_name: Name shown to people (the extract's file name without its suffix).
        source: Where the network came from (extract path or OSMnx query), for messages.
        from_cache: Whether the arrays were read from the on-disk cache instead of built.
        row_cache_bytes: Memory budget of the per-source row cache of :meth:`travel_matrix`
            (used on regions too large for a node table).
        table_max_nodes: Regions with at most this many intersections answer matrices from
            an all-pairs node table of ``8 * node_count**2`` bytes (default 3,500 nodes, 98 MB;
            18 MB for Liechtenstein). 0 turns the table off.
        cache_file: The compiled cache file of this network; its node table is stored next
            to it. ``None`` keeps the table in memory only.
    """

    def __init__(
        self,
        graph: CompiledGraph,
        *,
        region_name: str,
        source: str = "",
        from_cache: bool = False,
        row_cache_bytes: int = 128 << 20,
        table_max_nodes: int = _table.DEFAULT_TABLE_MAX_NODES,
        cache_file: Path | None = None,
    ) -> None:
        self.compiled = graph
        self.region_name = region_name
        self.source = source
        self.from_cache = from_cache
        self.table_max_nodes = table_max_nodes
        self.cache_file = cache_file
        self._table: F64 | None = None
        #: Where the node table came from once there is one: computed here or read from disk.
        self.table_origin: Literal["computed", "cache"] | None = None
        g = graph
        lat_lo, lat_hi = float(g.node_lat.min()), float(g.node_lat.max())
        lon_lo, lon_hi = float(g.node_lon.min()), float(g.node_lon.max())
        self.bounds: tuple[float, float, float, float] = (lat_lo, lon_lo, lat_hi, lon_hi)
        self._projection = LocalProjection((lat_lo + lat_hi) / 2, (lon_lo + lon_hi) / 2)
        self._lock = threading.Lock()
        self._edge_index: Any = None  # (STRtree, canonical edge ids, lines), built on first snap
        self._node_tree: Any = None  # cKDTree over projected nodes, built on first lookup
        self._base_csr: Any = None
        n = g.node_count
        self._dij_src = np.repeat(np.arange(n, dtype=np.int64), np.diff(g.dij_indptr))
        self._dij_keys = self._dij_src * n + g.dij_indices.astype(np.int64)
        self._dij_weights = np.maximum(g.dij_seconds.astype(np.float64), _MIN_WEIGHT)
        self._encoding = _Encoding.for_network(
            float(g.meta.get("diameter_bound_s") or diameter_bound_s(g))
            + 2 * float(g.edge_seconds.max()),
            float(np.max(g.edge_metres / np.maximum(g.edge_seconds, 1e-3))),
        )
        self._dij_encoded = self._encoding.encode(
            g.dij_seconds.astype(np.float64), g.dij_metres.astype(np.float64)
        )
        self.rows = _RowCache(row_cache_bytes)

    # ------------------------------------------------------------------ facts

    @property
    def content_hash(self) -> str:
        """SHA-256 of the extract the network was built from (or of the OSMnx query)."""
        return str(self.compiled.meta["content_hash"])

    @property
    def speed_profile_version(self) -> str:
        """Version of the speed profile the travel times were computed with."""
        return str(self.compiled.meta["speed_profile_version"])

    @property
    def uses_table(self) -> bool:
        """Whether matrices come from the all-pairs node table (small regions)."""
        return self.node_count <= self.table_max_nodes

    @property
    def node_count(self) -> int:
        """Number of intersections."""
        return self.compiled.node_count

    @property
    def edge_count(self) -> int:
        """Number of directed road edges (a two-way street counts twice)."""
        return self.compiled.edge_count

    @property
    def node_lat(self) -> F64:
        """Latitude of every node (index = node index)."""
        return self.compiled.node_lat

    @property
    def node_lon(self) -> F64:
        """Longitude of every node."""
        return self.compiled.node_lon

    @property
    def node_osmid(self) -> I64:
        """OSM id of every node."""
        return self.compiled.node_osmid

    def __repr__(self) -> str:
        return (
            f"RoadNetwork({self.region_name!r}, nodes={self.node_count}, edges={self.edge_count}, "
            f"hash={self.content_hash[:12]}, speeds={self.speed_profile_version})"
        )

    # ------------------------------------------------------------------ geometry helpers

    def edge_coords(self, edge: int) -> list[tuple[float, float]]:
        """The road geometry of one edge as ``(lat, lon)`` from tail to head."""
        lo, hi = self.compiled.geom_offsets[edge], self.compiled.geom_offsets[edge + 1]
        return list(
            zip(
                self.compiled.geom_lat[lo:hi].tolist(),
                self.compiled.geom_lon[lo:hi].tolist(),
                strict=True,
            )
        )

    def _sub_edge(self, edge: int, start: float, end: float) -> list[tuple[float, float]]:
        """Geometry of ``edge`` between two fractions of its length (``start <= end``)."""
        lo, hi = int(self.compiled.geom_offsets[edge]), int(self.compiled.geom_offsets[edge + 1])
        lat = self.compiled.geom_lat[lo:hi]
        lon = self.compiled.geom_lon[lo:hi]
        x, y = self._projection.forward(lat, lon)
        cum = np.concatenate(([0.0], np.cumsum(np.hypot(np.diff(x), np.diff(y)))))
        total = float(cum[-1])
        if total <= 0.0:
            return [(float(lat[0]), float(lon[0]))]
        a, b = start * total, end * total
        inner = [(float(lat[i]), float(lon[i])) for i in range(len(cum)) if a < cum[i] < b]
        ends = [(float(np.interp(d, cum, lat)), float(np.interp(d, cum, lon))) for d in (a, b)]
        return [ends[0], *inner, ends[1]]

    # ------------------------------------------------------------------ snapping

    def _snap_index(self) -> Any:
        with self._lock:
            if self._edge_index is None:
                import shapely

                g = self.compiled
                edges = np.arange(g.edge_count)
                canonical = edges[(g.edge_reverse < 0) | (edges < g.edge_reverse)]
                counts = np.diff(g.geom_offsets)[canonical]
                starts = g.geom_offsets[canonical]
                point_idx = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(
                    int(counts.sum())
                )
                x, y = self._projection.forward(g.geom_lat[point_idx], g.geom_lon[point_idx])
                line_of_point = np.repeat(np.arange(canonical.shape[0]), counts)
                lines = shapely.linestrings(np.column_stack((x, y)), indices=line_of_point)
                self._edge_index = (shapely.STRtree(lines), canonical, lines)
            return self._edge_index

    def snap(
        self, lat: float, lon: float, label: str | None = None, max_distance_m: float = 500.0
    ) -> Snap:
        """Place a point on the nearest point of the nearest drivable edge.

        Args:
            lat: Latitude in degrees.
            lon: Longitude in degrees.
            label: The caller's name for the point (account name, CSV id), used in errors.
            max_distance_m: Farther than this from every road is an error, not a snap: a rep
                would otherwise be routed to a road far from the account.

        Raises:
            InvalidCoordinateError: NaN, infinite or out-of-range coordinate.
            PointOffNetworkError: No drivable road within ``max_distance_m``.
        """
        return self.snap_many([(lat, lon)], None if label is None else [label], max_distance_m)[0]

    def snap_many(
        self,
        points: Sequence[tuple[float, float]],
        labels: Sequence[str] | None = None,
        max_distance_m: float = 500.0,
    ) -> list[Snap]:
        """Snap many points at once (vectorised); see :meth:`snap`.

        Raises:
            ValueError: ``labels`` and ``points`` differ in length.
            InvalidCoordinateError: For the first bad coordinate, naming its label.
            PointOffNetworkError: For the first point too far from the roads, naming its label.
        """
        import shapely

        if labels is not None and len(labels) != len(points):
            msg = f"{len(labels)} labels for {len(points)} points"
            raise ValueError(msg)
        names: list[str | None] = list(labels) if labels is not None else [None] * len(points)
        if not points:
            return []
        coords = [
            validate_coordinate(p[0], p[1], name) for p, name in zip(points, names, strict=True)
        ]
        lat = np.array([c[0] for c in coords], dtype=np.float64)
        lon = np.array([c[1] for c in coords], dtype=np.float64)
        tree, canonical, lines = self._snap_index()
        x, y = self._projection.forward(lat, lon)
        pts = shapely.points(x, y)
        (which, hit), _ = tree.query_nearest(pts, return_distance=True, all_matches=False)
        nearest = np.empty(len(points), dtype=np.int64)
        nearest[which] = hit
        chosen = lines[nearest]
        along = shapely.line_locate_point(chosen, pts)
        length = shapely.length(chosen)
        on_road = shapely.line_interpolate_point(chosen, along)
        s_lat, s_lon = self._projection.inverse(shapely.get_x(on_road), shapely.get_y(on_road))
        offset = haversine_m(lat, lon, s_lat, s_lon)
        fraction = np.where(length > 0, along / np.where(length > 0, length, 1.0), 0.0)
        fraction = np.clip(fraction, 0.0, 1.0)
        edges = canonical[nearest]
        snaps: list[Snap] = []
        min_lat, min_lon, max_lat, max_lon = self.bounds
        for i, name in enumerate(names):
            if offset[i] > max_distance_m:
                where = _describe(name, lat[i], lon[i])
                outside = not (min_lat <= lat[i] <= max_lat and min_lon <= lon[i] <= max_lon)
                region = f" is outside region '{self.region_name}' and" if outside else ""
                msg = (
                    f"{where}{region} is {offset[i]:.0f} m from the nearest drivable road "
                    f"(limit {max_distance_m:.0f} m)"
                ).replace(" and is ", " and ")
                raise PointOffNetworkError(
                    msg,
                    label=name,
                    distance_m=float(offset[i]),
                    max_distance_m=max_distance_m,
                    lat=float(lat[i]),
                    lon=float(lon[i]),
                )
            edge = int(edges[i])
            snaps.append(
                Snap(
                    lat=float(lat[i]),
                    lon=float(lon[i]),
                    snapped_lat=float(s_lat[i]),
                    snapped_lon=float(s_lon[i]),
                    offset_m=float(offset[i]),
                    edge=edge,
                    fraction=float(fraction[i]),
                    reverse_edge=int(self.compiled.edge_reverse[edge]),
                    label=name,
                )
            )
        return snaps

    # ------------------------------------------------------------------ nodes

    def _node_kdtree(self) -> Any:
        with self._lock:
            if self._node_tree is None:
                from scipy.spatial import cKDTree

                x, y = self._projection.forward(self.node_lat, self.node_lon)
                self._node_tree = cKDTree(np.column_stack((x, y)))
            return self._node_tree

    def nearest_node(self, lat: float, lon: float) -> int:
        """Index of the intersection nearest to a point (straight line).

        Raises:
            InvalidCoordinateError: NaN, infinite or out-of-range coordinate.
        """
        lat, lon = validate_coordinate(lat, lon)
        return int(self.nearest_nodes([lat], [lon])[0])

    def nearest_nodes(self, lat: ArrayLike, lon: ArrayLike) -> I64:
        """Vectorised :meth:`nearest_node`."""
        la = np.asarray(lat, dtype=np.float64).ravel()
        lo = np.asarray(lon, dtype=np.float64).ravel()
        bad = ~np.isfinite(la) | ~np.isfinite(lo) | (np.abs(la) > 90) | (np.abs(lo) > 180)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            validate_coordinate(float(la[i]), float(lo[i]))
        x, y = self._projection.forward(la, lo)
        _, idx = self._node_kdtree().query(np.column_stack((x, y)))
        return np.asarray(idx, dtype=np.int64)

    def _base_graph(self) -> Any:
        with self._lock:
            if self._base_csr is None:
                from scipy.sparse import csr_matrix

                n = self.node_count
                self._base_csr = csr_matrix(
                    (self._dij_weights, self.compiled.dij_indices, self.compiled.dij_indptr),
                    shape=(n, n),
                )
            return self._base_csr

    def _table_file(self) -> Path | None:
        if self.cache_file is None:
            return None
        return _table.table_path(self.cache_file, self._encoding.fingerprint(self.node_count))

    def ensure_table(self, *, recompute: bool = False) -> bool:
        """Load or compute the all-pairs node table now instead of on the first matrix.

        Reads the table stored next to :attr:`cache_file` (memory-mapped), or computes it (one
        search per node) and stores it there; a cache directory that cannot be written only
        costs the recomputation next time.

        Args:
            recompute: Compute and store the table even if one is loaded or on disk (after
                a fresh build, so a table of an older build is never trusted).

        Returns:
            Whether this network answers matrices from a table (see :attr:`uses_table`).
        """
        if not self.uses_table:
            return False
        self._node_table(recompute=recompute)
        return True

    def _node_table(self, *, recompute: bool = False) -> F64:
        with self._lock:
            if self._table is not None and not recompute:
                return self._table
            path = self._table_file()
            table = None
            if path is not None and not recompute:
                table = _table.load_table(path, self.node_count)
                origin: Literal["computed", "cache"] = "cache"
            if table is None:
                from scipy.sparse import csr_matrix

                n = self.node_count
                g = self.compiled
                csr = csr_matrix((self._dij_encoded, g.dij_indices, g.dij_indptr), shape=(n, n))
                table = _table.compute_table(csr, n)
                origin = "computed"
                if path is not None:
                    # A read-only cache only means computing the table again next time.
                    with contextlib.suppress(OSError):
                        _table.save_table(table, path)
            self._table, self.table_origin = table, origin
            return table

    def seconds_from_nodes(self, node_indices: ArrayLike) -> F64:
        """Drive seconds from each given node to every node: ``[len(nodes), node_count]``.

        Used where whole rows are wanted (territory centres to every account). Unreachable
        nodes are ``inf`` (none, within one strongly connected region).

        Raises:
            IndexError: A node index is outside ``[0, node_count)``.
        """
        from scipy.sparse.csgraph import dijkstra

        nodes = np.atleast_1d(np.asarray(node_indices, dtype=np.int64))
        if nodes.size and (nodes.min() < 0 or nodes.max() >= self.node_count):
            msg = (
                f"node indices must be in [0, {self.node_count}), got {nodes.min()}..{nodes.max()}"
            )
            raise IndexError(msg)
        if nodes.size == 0:
            return np.zeros((0, self.node_count), dtype=np.float64)
        return np.asarray(
            dijkstra(self._base_graph(), directed=True, indices=nodes), dtype=np.float64
        ).reshape(nodes.size, self.node_count)

    # ------------------------------------------------------------------ partial edges

    def _departures(self, snap: Snap) -> list[tuple[int, float, float, int, float]]:
        """Where a car at ``snap`` can first reach a node: (node, s, m, edge, from fraction).

        Along each placement to the edge's head; a point exactly on a tail node (fraction 0)
        is already at that node, whatever the direction of the edge.
        """
        g = self.compiled
        out: list[tuple[int, float, float, int, float]] = []
        for edge, frac in snap.placements():
            rest = 1.0 - frac
            out.append(
                (
                    int(g.edge_dst[edge]),
                    rest * float(g.edge_seconds[edge]),
                    rest * float(g.edge_metres[edge]),
                    edge,
                    frac,
                )
            )
            if frac <= 0.0:
                out.append((int(g.edge_src[edge]), 0.0, 0.0, edge, 0.0))
        best: dict[int, tuple[int, float, float, int, float]] = {}
        for option in out:
            if option[0] not in best or option[1] < best[option[0]][1]:
                best[option[0]] = option
        return list(best.values())

    def _arrivals(self, snap: Snap) -> list[tuple[int, float, float, int, float]]:
        """Nodes from which ``snap`` is reached: (node, s, m, edge, to fraction)."""
        g = self.compiled
        out: list[tuple[int, float, float, int, float]] = []
        for edge, frac in snap.placements():
            out.append(
                (
                    int(g.edge_src[edge]),
                    frac * float(g.edge_seconds[edge]),
                    frac * float(g.edge_metres[edge]),
                    edge,
                    frac,
                )
            )
            if frac >= 1.0:
                out.append((int(g.edge_dst[edge]), 0.0, 0.0, edge, 1.0))
        best: dict[int, tuple[int, float, float, int, float]] = {}
        for option in out:
            if option[0] not in best or option[1] < best[option[0]][1]:
                best[option[0]] = option
        return list(best.values())

    def _end_options(self, snaps: Sequence[Snap], *, leaving: bool) -> tuple[I64, F64, F64]:
        """:meth:`_departures` (``leaving``) or :meth:`_arrivals` of many snaps as arrays.

        Returns:
            ``(node, seconds, metres)``, each ``[len(snaps), 4]``: per placement (the edge,
            then its reverse) the node reached along the partial edge, then the node the point
            sits on if it is exactly at the edge's end. Absent options and options to a node
            already reached at least as cheaply by an earlier option (the same choice as
            ``_departures``/``_arrivals``) have ``inf`` seconds.
        """
        g = self.compiled
        k = len(snaps)
        edge0 = np.fromiter((s.edge for s in snaps), dtype=np.int64, count=k)
        frac0 = np.fromiter((s.fraction for s in snaps), dtype=np.float64, count=k)
        rev = np.fromiter((s.reverse_edge for s in snaps), dtype=np.int64, count=k)
        two_way = rev >= 0
        edge1 = np.where(two_way, rev, edge0)
        frac1 = 1.0 - frac0
        node = np.empty((k, 4), dtype=np.int64)
        seconds = np.full((k, 4), np.inf)
        metres = np.zeros((k, 4))
        present = np.empty((k, 4), dtype=bool)
        ends = (g.edge_dst, g.edge_src) if leaving else (g.edge_src, g.edge_dst)
        for p, (edge, frac, has) in enumerate(
            ((edge0, frac0, np.ones(k, dtype=bool)), (edge1, frac1, two_way))
        ):
            along = 1.0 - frac if leaving else frac
            node[:, 2 * p] = ends[0][edge]
            seconds[:, 2 * p] = along * g.edge_seconds[edge].astype(np.float64)
            metres[:, 2 * p] = along * g.edge_metres[edge].astype(np.float64)
            present[:, 2 * p] = has
            node[:, 2 * p + 1] = ends[1][edge]
            seconds[:, 2 * p + 1] = 0.0
            present[:, 2 * p + 1] = has & ((frac <= 0.0) if leaving else (frac >= 1.0))
        seconds[~present] = np.inf
        keep = present.copy()
        for j in range(4):
            for i in range(4):
                if i != j:
                    earlier_or_cheaper = (seconds[:, i] < seconds[:, j]) | (
                        (seconds[:, i] == seconds[:, j]) & (i < j)
                    )
                    keep[:, j] &= ~(present[:, i] & (node[:, i] == node[:, j]) & earlier_or_cheaper)
        seconds[~keep] = np.inf
        return node, seconds, metres

    def _direct(self, a: Snap, b: Snap) -> tuple[float, float, int, float, float] | None:
        """Driving straight along a shared edge from ``a`` to ``b`` ahead of it, if possible."""
        g = self.compiled
        best: tuple[float, float, int, float, float] | None = None
        for edge, fa in a.placements():
            for edge_b, fb in b.placements():
                if edge_b == edge and fb >= fa:
                    cost = (fb - fa) * float(g.edge_seconds[edge])
                    if best is None or cost < best[0]:
                        best = (cost, (fb - fa) * float(g.edge_metres[edge]), edge, fa, fb)
        return best

    def _apply_direct(
        self, sources: Sequence[Snap], targets: Sequence[Snap], seconds: F64, metres: F64
    ) -> None:
        """:meth:`_direct` for every source-target pair at once, where it is no slower."""
        g = self.compiled
        s_edge, s_frac, s_idx, s_rev = _placements(sources)
        t_edge, t_frac, t_idx, t_rev = _placements(targets)
        order = np.argsort(t_edge, kind="stable")
        sorted_edge = t_edge[order]
        lo = np.searchsorted(sorted_edge, s_edge, side="left")
        count = np.searchsorted(sorted_edge, s_edge, side="right") - lo
        total = int(count.sum())
        if total == 0:
            return
        a = np.repeat(np.arange(s_edge.size), count)
        b = order[np.repeat(lo - np.cumsum(count) + count, count) + np.arange(total)]
        ahead = t_frac[b] >= s_frac[a]
        a, b = a[ahead], b[ahead]
        edge = s_edge[a]
        share = t_frac[b] - s_frac[a]
        cost = share * g.edge_seconds[edge].astype(np.float64)
        length = share * g.edge_metres[edge].astype(np.float64)
        i, j = s_idx[a], t_idx[b]
        # Per pair the cheapest option, the first in placement order on ties (as _direct).
        pick = np.lexsort((2 * s_rev[a] + t_rev[b], cost, j, i))
        i, j, cost, length = i[pick], j[pick], cost[pick], length[pick]
        first = np.ones(i.size, dtype=bool)
        first[1:] = (i[1:] != i[:-1]) | (j[1:] != j[:-1])
        i, j, cost, length = i[first], j[first], cost[first], length[first]
        wins = cost <= seconds[i, j]
        seconds[i[wins], j[wins]] = cost[wins]
        metres[i[wins], j[wins]] = length[wins]

    # ------------------------------------------------------------------ searches

    def _search(self, sources: Sequence[Snap], *, predecessors: bool) -> tuple[F64, F64, Any]:
        """One Dijkstra per snapped source over the graph plus one virtual node per source.

        Edge weights are :class:`_Encoding` integers (seconds, then metres), so the one search
        yields both the fastest time and the length of that route.

        Returns:
            ``(seconds, metres, preds)``: ``[len(sources), node_count]`` rows to every real
            node (metres along the fastest route), and the predecessor rows (augmented node
            numbering: virtual source ``i`` is node ``node_count + i``) if asked for.
        """
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import dijkstra

        g = self.compiled
        n, k = self.node_count, len(sources)
        big = n + k
        enc = self._encoding
        starts = [self._departures(s) for s in sources]
        counts = np.array([len(opts) for opts in starts], dtype=np.int64)
        v_heads = np.array([o[0] for opts in starts for o in opts], dtype=np.int64)
        v_weights = enc.encode(
            np.array([o[1] for opts in starts for o in opts], dtype=np.float64),
            np.array([o[2] for opts in starts for o in opts], dtype=np.float64),
        )
        indptr = np.concatenate(
            (g.dij_indptr.astype(np.int64), g.dij_indptr[-1] + np.cumsum(counts))
        )
        indices = np.concatenate((g.dij_indices.astype(np.int64), v_heads))
        weights = np.concatenate((self._dij_encoded, v_weights))
        graph = csr_matrix((weights, indices, indptr), shape=(big, big))
        result = dijkstra(
            graph,
            directed=True,
            indices=np.arange(n, big),
            return_predecessors=predecessors,
        )
        dist, pred = result if predecessors else (result, None)
        dist = np.asarray(dist, dtype=np.float64).reshape(k, big)[:, :n]
        seconds, metres = enc.decode(dist)
        return seconds, metres, (pred if predecessors else None)

    def _rows(self, sources: Sequence[Snap]) -> tuple[F64, F64]:
        """Seconds and metres rows to every node for each source (from the cache if there)."""
        keys = [(s.edge, s.fraction) for s in sources]
        unique: dict[tuple[int, float], int] = {}
        for key in keys:
            unique.setdefault(key, len(unique))
        found: dict[tuple[int, float], tuple[F64, F64]] = {}
        missing: list[tuple[int, float]] = []
        for key in unique:
            row = self.rows.get(key)
            if row is None:
                missing.append(key)
            else:
                found[key] = row
        by_key = {(s.edge, s.fraction): s for s in sources}
        batch = max(1, _BATCH_ELEMENTS // max(1, self.node_count + len(missing)))
        for lo in range(0, len(missing), batch):
            chunk = missing[lo : lo + batch]
            seconds, metres, _ = self._search([by_key[key] for key in chunk], predecessors=False)
            for i, key in enumerate(chunk):
                row = (seconds[i].copy(), metres[i].copy())
                found[key] = row
                self.rows.put(key, row)
        out_s = np.empty((len(sources), self.node_count), dtype=np.float64)
        out_m = np.empty_like(out_s)
        for i, key in enumerate(keys):
            out_s[i], out_m[i] = found[key]
        return out_s, out_m

    def _table_rows(self, node: I64, weights: F64, columns: I64 | None) -> tuple[F64, F64]:
        """Seconds and metres rows of sources from the node table (as :meth:`_rows` gives).

        The minimum over a source's departures (``node``, encoded ``weights``; ``inf`` for
        none) of weight + table row of that node is exactly what the Dijkstra from the
        source's virtual node sums, so the rows equal :meth:`_rows`'s bit for bit. Only
        ``columns`` (all nodes if ``None``) are gathered.
        """
        table = self._node_table()
        packed: F64 | None = None
        for slot in range(node.shape[1]):
            if not np.isfinite(weights[:, slot]).any():
                continue
            block = np.take(table, node[:, slot], axis=0)
            if columns is not None:
                block = np.take(block, columns, axis=1, mode="clip")
            block += weights[:, slot, None]
            if packed is None:
                packed = block
            else:
                np.minimum(packed, block, out=packed)
        assert packed is not None  # the first placement always departs somewhere
        return self._encoding.decode(packed)

    def travel_matrix(self, sources: Sequence[Snap], targets: Sequence[Snap]) -> TravelMatrix:
        """Drive seconds and metres from every source to every target (row = source).

        Asymmetric where one-way streets make it so. The partial edges at both ends count: from
        the source along its edge to the edge's head, and from the target edge's tail to the
        target; a target ahead of its source on the same edge is reached directly. A point
        to itself is 0; a target that cannot be reached is ``inf``. Small regions read the
        all-pairs node table (see :attr:`uses_table`); larger ones search once per source and
        serve rows of repeated sources from a per-region cache.
        """
        k, t = len(sources), len(targets)
        seconds = np.full((k, t), np.inf)
        metres = np.full((k, t), np.inf)
        if k == 0 or t == 0:
            return TravelMatrix(seconds=seconds, metres=metres)
        arr_node, arr_s, arr_m = self._end_options(targets, leaving=False)
        slots = [slot for slot in range(4) if np.isfinite(arr_s[:, slot]).any()]
        arr_node, arr_s, arr_m = arr_node[:, slots], arr_s[:, slots], arr_m[:, slots]
        if self.uses_table:
            # Only the columns of the targets' arrival nodes (few for small matrices), and
            # sources in chunks small enough for the working arrays to stay in cache.
            reached = np.isfinite(arr_s)
            columns: I64 | None
            columns, where = np.unique(arr_node[reached], return_inverse=True)
            arr_col = np.zeros_like(arr_node)
            arr_col[reached] = where
            if columns.size * 2 > self.node_count:  # gathering columns would cost more
                columns, arr_col = None, arr_node
            width = self.node_count if columns is None else columns.size
            dep_node, dep_s, dep_m = self._end_options(sources, leaving=True)
            weights = self._encoding.encode(dep_s, dep_m)
            weights[~np.isfinite(dep_s)] = np.inf
            chunk = max(1, _CHUNK_ELEMENTS // max(t, width))
            for lo in range(0, k, chunk):
                hi = min(k, lo + chunk)
                rows_s, rows_m = self._table_rows(dep_node[lo:hi], weights[lo:hi], columns)
                _best_arrivals(rows_s, rows_m, arr_col, arr_s, arr_m, seconds[lo:hi], metres[lo:hi])
        else:
            rows_s, rows_m = self._rows(sources)
            chunk = max(1, _CHUNK_ELEMENTS // max(t, 1))
            for lo in range(0, k, chunk):
                hi = min(k, lo + chunk)
                _best_arrivals(
                    rows_s[lo:hi],
                    rows_m[lo:hi],
                    arr_node,
                    arr_s,
                    arr_m,
                    seconds[lo:hi],
                    metres[lo:hi],
                )
        self._apply_direct(sources, targets, seconds, metres)
        return TravelMatrix(seconds=seconds, metres=metres)

    def route_path(self, a: Snap, b: Snap) -> RoutePath:
        """The fastest drive from ``a`` to ``b``: intersections, road geometry and polyline.

        Raises:
            RoutingError: ``b`` cannot be reached from ``a`` (not within one region).
        """
        import polyline as polyline_codec

        seconds, metres, pred = self._search([a], predecessors=True)
        best: tuple[float, float, tuple[int, float, float, int, float] | None] = (
            math.inf,
            math.inf,
            None,
        )
        for option in self._arrivals(b):
            total = float(seconds[0, option[0]]) + option[1]
            if total < best[0]:
                best = (total, float(metres[0, option[0]]) + option[2], option)
        direct = self._direct(a, b)
        if direct is not None and direct[0] <= best[0]:
            coords = self._sub_edge(direct[2], direct[3], direct[4])
            return self._route(coords, [], direct[0], direct[1], polyline_codec)
        total_s, total_m, arrival = best
        if arrival is None or not math.isfinite(total_s):
            to, start = _describe(b.label, b.lat, b.lon), _describe(a.label, a.lat, a.lon)
            msg = f"{to} cannot be reached from {start}"
            raise RoutingError(msg)
        n = self.node_count
        chain: list[int] = [arrival[0]]
        while True:
            parent = int(pred[0, chain[-1]])
            if parent < 0 or parent >= n:
                break
            chain.append(parent)
        chain.reverse()
        first = {o[0]: o for o in self._departures(a)}[chain[0]]
        coords = self._sub_edge(first[3], first[4], 1.0) if first[4] < 1.0 else []
        for u, v in itertools.pairwise(chain):
            slot = int(np.searchsorted(self._dij_keys, u * n + v))
            edge = int(self.compiled.dij_edge[slot])
            coords.extend(self.edge_coords(edge))
        if arrival[4] > 0.0:
            coords.extend(self._sub_edge(arrival[3], 0.0, arrival[4]))
        if not coords:
            coords = [(float(self.node_lat[chain[0]]), float(self.node_lon[chain[0]]))]
        return self._route(coords, chain, total_s, total_m, polyline_codec)

    def _route(
        self,
        coords: list[tuple[float, float]],
        chain: list[int],
        seconds: float,
        metres: float,
        codec: Any,
    ) -> RoutePath:
        clean: list[tuple[float, float]] = []
        for point in coords:
            if not clean or point != clean[-1]:
                clean.append(point)
        return RoutePath(
            node_ids=tuple(int(self.node_osmid[i]) for i in chain),
            node_indices=tuple(chain),
            coords=tuple(clean),
            polyline=str(codec.encode(clean, 5)),
            seconds=seconds,
            metres=metres,
        )


__all__ = ["RoadNetwork", "validate_coordinate"]
