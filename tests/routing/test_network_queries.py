"""Snapping, matrices, paths and one-to-all searches on the real Liechtenstein network.

The reference for drive times is an independent NetworkX computation on the compiled edges,
with every snapped point inserted as a real node that splits its edge (and the twin edge of a
two-way street); it shares no code with the engine's virtual-node and partial-edge logic.
"""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import polyline
import pytest

from routing.network import (
    InvalidCoordinateError,
    PointOffNetworkError,
    RoadNetwork,
    Snap,
)
from routing.network._geo import haversine_m


def _reference(net: RoadNetwork, snaps: list[Snap]) -> tuple[np.ndarray, np.ndarray]:
    """Seconds and metres between snapped points by NetworkX on a graph split at each point."""
    g = net.compiled
    on_edge: dict[int, list[tuple[float, object]]] = {}
    for k, snap in enumerate(snaps):
        on_edge.setdefault(snap.edge, []).append((snap.fraction, ("p", k)))
        if snap.reverse_edge >= 0:
            on_edge.setdefault(snap.reverse_edge, []).append((1.0 - snap.fraction, ("p", k)))
    graph = nx.DiGraph()

    def add(u: object, v: object, s: float, m: float) -> None:
        if u == v:
            return
        if not graph.has_edge(u, v) or graph[u][v]["s"] > s:
            graph.add_edge(u, v, s=s, m=m)

    for e in range(net.edge_count):
        u, v = int(g.edge_src[e]), int(g.edge_dst[e])
        s, m = float(g.edge_seconds[e]), float(g.edge_metres[e])
        chain = [(0.0, u), *sorted(on_edge.get(e, []), key=lambda p: p[0]), (1.0, v)]
        for (fa, a), (fb, b) in itertools.pairwise(chain):
            add(a, b, (fb - fa) * s, (fb - fa) * m)
        for f, p in on_edge.get(e, []):
            if f <= 0.0:  # a point exactly on an intersection is that intersection
                add(p, u, 0.0, 0.0)
                add(u, p, 0.0, 0.0)
    size = len(snaps)
    seconds = np.full((size, size), np.inf)
    metres = np.full((size, size), np.inf)
    for i in range(size):
        dist, paths = nx.single_source_dijkstra(graph, ("p", i), weight="s")
        for j in range(size):
            if ("p", j) in dist:
                path = paths[("p", j)]
                seconds[i, j] = dist[("p", j)]
                metres[i, j] = sum(graph[a][b]["m"] for a, b in itertools.pairwise(path))
    return seconds, metres


@pytest.fixture(scope="module")
def sample(li_net: RoadNetwork) -> list[Snap]:
    """Random points near roads, points exactly on intersections, two on one edge."""
    rng = np.random.default_rng(42)
    nodes = rng.choice(li_net.node_count, 40, replace=False)
    points = [
        (li_net.node_lat[i] + rng.normal(0, 0.0015), li_net.node_lon[i] + rng.normal(0, 0.0015))
        for i in nodes[:34]
    ]
    points += [(float(li_net.node_lat[i]), float(li_net.node_lon[i])) for i in nodes[34:]]
    snaps = li_net.snap_many(points, max_distance_m=5000)
    long_edge = int(np.argmax(li_net.compiled.edge_metres))
    coords = li_net.edge_coords(long_edge)
    mid = coords[len(coords) // 2]
    snaps += li_net.snap_many([coords[1], mid])
    return snaps


def test_matrix_equals_networkx_reference_with_partial_edges(
    li_net: RoadNetwork, sample: list[Snap]
) -> None:
    """Every entry equals an independent shortest-path computation on the split graph."""
    matrix = li_net.travel_matrix(sample, sample)
    ref_s, ref_m = _reference(li_net, sample)
    assert matrix.seconds.shape == (len(sample), len(sample))
    assert matrix.seconds.dtype == np.float64
    np.testing.assert_allclose(matrix.seconds, ref_s, rtol=1e-5, atol=0.02)
    np.testing.assert_allclose(matrix.metres, ref_m, rtol=1e-3, atol=1.0)
    assert np.all(np.diag(matrix.seconds) == 0.0)
    assert np.all(np.isfinite(matrix.seconds))  # one strongly connected region


def test_triangle_inequality(li_net: RoadNetwork, sample: list[Snap]) -> None:
    """No detour through a third point is faster than the direct entry."""
    s = li_net.travel_matrix(sample, sample).seconds
    via = (s[:, :, None] + s[None, :, :]).min(axis=1)
    assert np.all(s <= via + 1e-3)


def test_rectangular_matrix_rows_are_sources(li_net: RoadNetwork, sample: list[Snap]) -> None:
    """A 3x5 matrix is the corresponding block of the square one (row = source)."""
    full = li_net.travel_matrix(sample, sample)
    part = li_net.travel_matrix(sample[:3], sample[10:15])
    assert part.shape == (3, 5)
    np.testing.assert_allclose(part.seconds, full.seconds[:3, 10:15])
    np.testing.assert_allclose(part.metres, full.metres[:3, 10:15])


def test_one_way_street_makes_the_matrix_asymmetric(li_net: RoadNetwork) -> None:
    """Two points on a one-way street: forward is the partial edge, backward goes around."""
    g = li_net.compiled
    one_way = [
        e for e in range(li_net.edge_count) if g.edge_reverse[e] < 0 and g.edge_metres[e] > 150
    ]
    edge = max(one_way, key=lambda e: float(g.edge_metres[e]))
    a = Snap(0, 0, 0, 0, 0.0, edge=edge, fraction=0.25)
    b = Snap(0, 0, 0, 0, 0.0, edge=edge, fraction=0.75)
    m = li_net.travel_matrix([a, b], [a, b])
    assert m.seconds[0, 1] == pytest.approx(0.5 * float(g.edge_seconds[edge]), rel=1e-6)
    assert m.metres[0, 1] == pytest.approx(0.5 * float(g.edge_metres[edge]), rel=1e-6)
    assert m.seconds[1, 0] > m.seconds[0, 1] + 10.0
    # ...and the snapped version of the same points agrees: a real one-way in the data.
    lat, lon = li_net.edge_coords(edge)[0]
    snapped = li_net.snap(lat, lon)
    assert snapped.reverse_edge == -1


def test_two_way_street_is_symmetric_along_the_edge(li_net: RoadNetwork) -> None:
    """On a two-way street both points can drive straight to each other."""
    g = li_net.compiled
    edge = int(np.flatnonzero(g.edge_reverse >= 0)[np.argmax(g.edge_metres[g.edge_reverse >= 0])])
    rev = int(g.edge_reverse[edge])
    a = Snap(0, 0, 0, 0, 0.0, edge=edge, fraction=0.2, reverse_edge=rev)
    b = Snap(0, 0, 0, 0, 0.0, edge=edge, fraction=0.6, reverse_edge=rev)
    m = li_net.travel_matrix([a, b], [a, b])
    assert m.seconds[0, 1] == pytest.approx(0.4 * float(g.edge_seconds[edge]), rel=1e-6)
    assert m.seconds[1, 0] == pytest.approx(0.4 * float(g.edge_seconds[rev]), rel=1e-6)


def test_snap_lands_on_the_nearest_edge_not_the_nearest_node(li_net: RoadNetwork) -> None:
    """20 m beside the middle of a long road snaps onto that road, mid-way along it."""
    g = li_net.compiled
    edge = int(np.argmax(g.edge_metres))
    coords = li_net.edge_coords(edge)
    (lat1, lon1), (lat2, lon2) = coords[len(coords) // 2 - 1], coords[len(coords) // 2]
    mid_lat, mid_lon = (lat1 + lat2) / 2, (lon1 + lon2) / 2
    # Offset perpendicular to the local segment direction by ~20 m.
    dx, dy = (lon2 - lon1) * math.cos(math.radians(mid_lat)), lat2 - lat1
    norm = math.hypot(dx, dy)
    off = 20.0 / 111_195.0
    lat = mid_lat + dx / norm * off
    lon = mid_lon - dy / norm * off / math.cos(math.radians(mid_lat))
    snap = li_net.snap(lat, lon, label="beside the road")
    assert {snap.edge, snap.reverse_edge} & {edge, int(g.edge_reverse[edge])}
    assert snap.offset_m == pytest.approx(20.0, abs=1.0)
    assert 0.0 < snap.fraction < 1.0
    nearest_node_m = float(haversine_m(lat, lon, g.node_lat, g.node_lon).min())
    assert nearest_node_m > snap.offset_m + 50.0
    assert snap.offset_m == pytest.approx(
        float(haversine_m(lat, lon, snap.snapped_lat, snap.snapped_lon)), abs=1e-6
    )
    assert snap.label == "beside the road"


def test_point_far_from_roads_is_an_error_naming_the_account(li_net: RoadNetwork) -> None:
    """Zürich is not in Liechtenstein: the error names the account and the distance."""
    with pytest.raises(PointOffNetworkError) as info:
        li_net.snap(47.3769, 8.5417, label="Bäckerei X")
    err = info.value
    assert err.label == "Bäckerei X"
    assert err.distance_m > 50_000
    assert err.max_distance_m == 500.0
    assert str(err).startswith("account 'Bäckerei X' is outside region 'liechtenstein' and ")
    assert str(err).endswith(" m from the nearest drivable road (limit 500 m)")


def test_snap_limit_is_configurable(li_net: RoadNetwork) -> None:
    """A point 100 m off the road passes the default limit and fails a 50 m limit."""
    lat, lon = li_net.edge_coords(int(np.argmax(li_net.compiled.edge_metres)))[0]
    for _ in range(200):  # walk north until 100-150 m from any road
        lat += 0.0001
        try:
            snap = li_net.snap(lat, lon)
        except PointOffNetworkError:
            continue
        if 100.0 <= snap.offset_m <= 150.0:
            break
    else:
        pytest.skip("no point 100-150 m from a road on this walk")
    with pytest.raises(PointOffNetworkError) as info:
        li_net.snap(lat, lon, label="Praxis Y", max_distance_m=50.0)
    assert str(info.value) == (
        f"account 'Praxis Y' is {info.value.distance_m:.0f} m from the nearest drivable road "
        "(limit 50 m)"
    )


@pytest.mark.parametrize(
    ("lat", "lon", "expected"),
    [
        (float("nan"), 9.52, "latitude of account 'acc' is nan"),
        (47.14, float("inf"), "longitude of account 'acc' is inf"),
        (91.0, 9.52, "latitude of account 'acc' is 91.0, outside [-90, 90]"),
        (47.14, -181.5, "longitude of account 'acc' is -181.5, outside [-180, 180]"),
        ("north", 9.52, "latitude of account 'acc' is not a number: 'north'"),
    ],
)
def test_invalid_coordinates_name_the_value(
    li_net: RoadNetwork, lat: float, lon: float, expected: str
) -> None:
    """NaN, infinite, out-of-range and non-numeric coordinates are refused by name."""
    with pytest.raises(
        InvalidCoordinateError, match=expected.replace("[", r"\[").replace("]", r"\]")
    ):
        li_net.snap(lat, lon, label="acc")
    with pytest.raises(InvalidCoordinateError):
        li_net.snap_many([(47.14, 9.52), (lat, lon)], labels=["ok", "acc"])
    with pytest.raises(InvalidCoordinateError):
        li_net.nearest_node(lat, lon)


def test_snap_many_checks_label_count(li_net: RoadNetwork) -> None:
    """Labels must pair up with points."""
    with pytest.raises(ValueError, match="1 labels for 2 points"):
        li_net.snap_many([(47.14, 9.52), (47.15, 9.52)], labels=["only one"])


def test_route_path_matches_matrix_and_follows_the_road(
    li_net: RoadNetwork, sample: list[Snap]
) -> None:
    """The path's time and length are the matrix entry; its geometry is that long."""
    a, b = sample[0], sample[7]
    path = li_net.route_path(a, b)
    m = li_net.travel_matrix([a], [b])
    assert path.seconds == pytest.approx(m.seconds[0, 0], abs=1e-6)
    assert path.metres == pytest.approx(m.metres[0, 0], abs=1e-6)
    assert path.coords[0] == pytest.approx((a.snapped_lat, a.snapped_lon), abs=1e-6)
    assert path.coords[-1] == pytest.approx((b.snapped_lat, b.snapped_lon), abs=1e-6)
    c = np.array(path.coords)
    drawn = float(haversine_m(c[:-1, 0], c[:-1, 1], c[1:, 0], c[1:, 1]).sum())
    assert drawn == pytest.approx(path.metres, rel=0.01)
    decoded = polyline.decode(path.polyline, 5)
    assert len(decoded) == len(path.coords)
    np.testing.assert_allclose(np.array(decoded), c, atol=1e-5)
    g = li_net.compiled
    for u, v in zip(path.node_indices, path.node_indices[1:], strict=False):
        heads = g.edge_dst[g.indptr[u] : g.indptr[u + 1]]
        assert v in heads  # consecutive intersections are joined by a road
    assert path.node_ids == tuple(int(g.node_osmid[i]) for i in path.node_indices)


def test_route_path_along_one_edge_is_direct(li_net: RoadNetwork) -> None:
    """Two points on one edge, target ahead: no intersections, partial edge only."""
    g = li_net.compiled
    edge = int(np.argmax(g.edge_metres))
    a = Snap(0, 0, 0, 0, 0.0, edge=edge, fraction=0.1, reverse_edge=int(g.edge_reverse[edge]))
    b = Snap(0, 0, 0, 0, 0.0, edge=edge, fraction=0.9, reverse_edge=int(g.edge_reverse[edge]))
    path = li_net.route_path(a, b)
    assert path.node_ids == ()
    assert path.metres == pytest.approx(0.8 * float(g.edge_metres[edge]), rel=1e-6)
    c = np.array(path.coords)
    drawn = float(haversine_m(c[:-1, 0], c[:-1, 1], c[1:, 0], c[1:, 1]).sum())
    assert drawn == pytest.approx(path.metres, rel=0.01)


def test_seconds_from_nodes_and_nearest_node(li_net: RoadNetwork) -> None:
    """One-to-all rows equal NetworkX on the node graph; nearest_node is the closest node."""
    g = li_net.compiled
    graph = nx.DiGraph()
    for e in range(li_net.edge_count):
        u, v, s = int(g.edge_src[e]), int(g.edge_dst[e]), float(g.edge_seconds[e])
        if u != v and (not graph.has_edge(u, v) or graph[u][v]["s"] > s):
            graph.add_edge(u, v, s=s)
    rows = li_net.seconds_from_nodes([0, 700])
    assert rows.shape == (2, li_net.node_count)
    for r, node in enumerate((0, 700)):
        ref = nx.single_source_dijkstra_path_length(graph, node, weight="s")
        np.testing.assert_allclose(rows[r], [ref[i] for i in range(li_net.node_count)], rtol=1e-9)
    lat, lon = 47.1410, 9.5209
    expected = int(np.argmin(haversine_m(lat, lon, g.node_lat, g.node_lon)))
    assert li_net.nearest_node(lat, lon) == expected
    with pytest.raises(IndexError):
        li_net.seconds_from_nodes([li_net.node_count])


def test_repeated_sources_come_from_the_row_cache(li_net: RoadNetwork, sample: list[Snap]) -> None:
    """Without a node table, a second matrix with the same sources runs no search."""
    net = RoadNetwork(li_net.compiled, region_name="liechtenstein", table_max_nodes=0)
    first = net.travel_matrix(sample[:5], sample)
    hits = net.rows.hits
    second = net.travel_matrix(sample[:5], sample[::-1])
    assert net.rows.hits == hits + 5
    np.testing.assert_array_equal(second.seconds, first.seconds[:, ::-1])
