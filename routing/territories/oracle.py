"""Travel-time oracles: the only way the engine learns how far apart things are.

The engine asks one question, "seconds from each of these sources to each of these points",
so it runs the same on straight lines (any size, no data) and on the road network (a
one-to-all Dijkstra per source, fine for a few hundred territory centres).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from routing.territories._geo import EARTH_RADIUS_KM, haversine_km
from routing.territories.errors import AccountOffNetworkError

FloatArray = NDArray[np.float64]
Seconds = NDArray[np.float32]

UNREACHABLE_SECONDS = 48 * 3600.0
"""Stand-in for "no road path": large enough never to be chosen, finite for the solvers."""


@runtime_checkable
class TravelTimeOracle(Protocol):
    """Drive seconds from sources (territory centres, homes) to points (accounts)."""

    def seconds(
        self, src_lat: FloatArray, src_lon: FloatArray, dst_lat: FloatArray, dst_lon: FloatArray
    ) -> Seconds:
        """Return an ``(n_sources, n_points)`` float32 matrix of drive seconds."""
        ...

    def check_points(self, lat: FloatArray, lon: FloatArray, ids: list[str]) -> None:
        """Raise :class:`AccountOffNetworkError` for the first point that cannot be reached."""
        ...


@dataclass(frozen=True, slots=True)
class StraightLineOracle:
    """Haversine distance times a detour factor, driven at a constant speed.

    Attributes:
        speed_kmh: Average driving speed (50 km/h suits mixed regional driving).
        detour: Road distance / straight-line distance (1.3 is typical for European roads).
    """

    speed_kmh: float = 50.0
    detour: float = 1.3

    def seconds(
        self, src_lat: FloatArray, src_lon: FloatArray, dst_lat: FloatArray, dst_lon: FloatArray
    ) -> Seconds:
        """See :meth:`TravelTimeOracle.seconds`."""
        km = haversine_km(src_lat, src_lon, dst_lat, dst_lon)
        km *= np.float32(self.detour * 3600.0 / self.speed_kmh)
        return km

    def check_points(self, lat: FloatArray, lon: FloatArray, ids: list[str]) -> None:
        """Every finite coordinate is reachable in a straight line."""
        bad = ~(np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise AccountOffNetworkError(ids[i], "coordinates are not a valid lat/lon")


class RoadNetworkOracle:
    """Adapter over :mod:`routing.network`: seconds on the drivable road graph.

    Sources and points are placed on their nearest graph node; one one-to-all search per
    source gives a row over all nodes, from which the points' columns are taken. Node lookups
    of the last point set are memoized because the engine asks about the same accounts every
    round.

    Args:
        network: An object with ``nearest_node(lat, lon) -> int``,
            ``seconds_from_nodes(nodes) -> ndarray[len, node_count]`` and
            ``snap(lat, lon, label=...)`` (raising on points off the network), i.e. a loaded
            ``routing.network`` region.
    """

    def __init__(self, network: Any) -> None:
        self._net = network
        self._memo_key: str | None = None
        self._memo_nodes: NDArray[np.int64] | None = None

    @classmethod
    def from_region(cls, path: Path, cache_dir: Path | None = None) -> RoadNetworkOracle:
        """Load an OSM extract through ``routing.network.load_region`` and wrap it."""
        from routing import network as network_mod  # type: ignore[attr-defined,unused-ignore]

        load = network_mod.load_region
        net = load(path, cache_dir=cache_dir) if cache_dir is not None else load(path)
        return cls(net)

    def _nodes(self, lat: FloatArray, lon: FloatArray) -> NDArray[np.int64]:
        la = np.ascontiguousarray(lat, dtype=np.float64)
        lo = np.ascontiguousarray(lon, dtype=np.float64)
        key = hashlib.blake2b(la.tobytes() + lo.tobytes(), digest_size=16).hexdigest()
        if key == self._memo_key and self._memo_nodes is not None:
            return self._memo_nodes
        nodes = self._lookup(la, lo)
        if la.shape[0] > 16:  # memoize account sets, not the handful of centres
            self._memo_key, self._memo_nodes = key, nodes
        return nodes

    def _lookup(self, la: FloatArray, lo: FloatArray) -> NDArray[np.int64]:
        bulk = getattr(self._net, "nearest_nodes", None)
        if callable(bulk):
            return np.asarray(bulk(la, lo), dtype=np.int64)
        pairs = zip(la.tolist(), lo.tolist(), strict=True)
        return np.array([int(self._net.nearest_node(a, b)) for a, b in pairs], dtype=np.int64)

    def seconds(
        self, src_lat: FloatArray, src_lon: FloatArray, dst_lat: FloatArray, dst_lon: FloatArray
    ) -> Seconds:
        """See :meth:`TravelTimeOracle.seconds`."""
        dst_nodes = self._nodes(dst_lat, dst_lon)
        src_nodes = self._lookup(
            np.asarray(src_lat, dtype=np.float64), np.asarray(src_lon, dtype=np.float64)
        )
        out = np.empty((src_nodes.shape[0], dst_nodes.shape[0]), dtype=np.float32)
        block = 32  # rows over all nodes: bounded memory on large regions
        for s in range(0, src_nodes.shape[0], block):
            rows = np.asarray(self._net.seconds_from_nodes(src_nodes[s : s + block]))
            out[s : s + block] = rows[:, dst_nodes]
        out[~np.isfinite(out)] = UNREACHABLE_SECONDS
        np.minimum(out, UNREACHABLE_SECONDS, out=out)
        return out

    def check_points(self, lat: FloatArray, lon: FloatArray, ids: list[str]) -> None:
        """Snap every point; the network's own error becomes :class:`AccountOffNetworkError`.

        A point whose nearest intersection is well within the snap limit is on the network
        (intersections lie on roads), so only the others are snapped: one k-d tree query
        instead of an edge snap per account (a third of a 10k-account realignment's time).
        Uses the network's vectorised ``snap_many`` when it has one (the error names the
        first offending label), else one ``snap`` per point.
        """
        la = np.asarray(lat, dtype=np.float64)
        lo = np.asarray(lon, dtype=np.float64)
        todo = np.flatnonzero(~self._near_intersection(la, lo))
        bulk = getattr(self._net, "snap_many", None)
        try:
            if callable(bulk):
                if todo.shape[0]:
                    bulk(
                        list(zip(la[todo].tolist(), lo[todo].tolist(), strict=True)),
                        [ids[i] for i in todo.tolist()],
                    )
                return
            for i in todo.tolist():
                self._net.snap(float(la[i]), float(lo[i]), label=ids[i])
        except ValueError as exc:  # PointOffNetworkError / InvalidCoordinateError are ValueErrors
            label = getattr(exc, "label", None)
            pid = label if isinstance(label, str) else _first_id_in(str(exc), ids)
            raise AccountOffNetworkError(pid, str(exc)) from exc

    def _near_intersection(self, la: FloatArray, lo: FloatArray) -> NDArray[np.bool_]:
        """Valid points within ``_SURELY_ON_NETWORK_M`` of an intersection (all ``False``
        when the network has no node coordinates or bulk lookup)."""
        near = np.zeros(la.shape[0], dtype=bool)
        node_lat = getattr(self._net, "node_lat", None)
        node_lon = getattr(self._net, "node_lon", None)
        if (
            node_lat is None
            or node_lon is None
            or not callable(getattr(self._net, "nearest_nodes", None))
        ):
            return near
        valid = np.isfinite(la) & np.isfinite(lo) & (np.abs(la) <= 90) & (np.abs(lo) <= 180)
        idx = np.flatnonzero(valid)
        if idx.shape[0] == 0:
            return near
        nodes = (
            self._nodes(la, lo) if idx.shape[0] == la.shape[0] else self._lookup(la[idx], lo[idx])
        )
        n_lat = np.asarray(node_lat, dtype=np.float64)[nodes]
        n_lon = np.asarray(node_lon, dtype=np.float64)[nodes]
        near[idx] = _metres(la[idx], lo[idx], n_lat, n_lon) <= _SURELY_ON_NETWORK_M
        return near


_SURELY_ON_NETWORK_M = 400.0
"""Below the network's 500 m snap limit with room for its projection: a point this close to
an intersection is closer still to a road."""


def _metres(lat1: FloatArray, lon1: FloatArray, lat2: FloatArray, lon2: FloatArray) -> FloatArray:
    """Great-circle metres between paired points."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    h = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    out: FloatArray = 2_000.0 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))
    return out


def _first_id_in(message: str, ids: list[str]) -> str:
    """Best effort: the id the network's message names (it quotes the caller's label)."""
    for pid in ids:
        if f"'{pid}'" in message or f'"{pid}"' in message:
            return pid
    return next((pid for pid in ids if pid in message), "?")


__all__ = ["UNREACHABLE_SECONDS", "RoadNetworkOracle", "StraightLineOracle", "TravelTimeOracle"]
