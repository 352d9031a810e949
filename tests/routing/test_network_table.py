"""The all-pairs node table of small regions: same answers as the searches, cached on disk.

The table path and the per-source Dijkstra path share the partial-edge arithmetic in the
encoded integer domain, so their matrices must agree exactly (``assert_array_equal``), not just
within a tolerance; the NetworkX reference in ``test_network_queries`` checks both against an
independent computation.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from routing.network import RoadNetwork, Snap, _table, load_region
from routing.network import network as network_mod

LIECHTENSTEIN = Path(__file__).resolve().parents[2] / "routing" / "data" / "liechtenstein.osm.pbf"


def _with_table(net: RoadNetwork, *, table: bool) -> RoadNetwork:
    """The same compiled arrays, forced above (no table) or below (table) the threshold."""
    return RoadNetwork(
        net.compiled, region_name=net.region_name, table_max_nodes=10**9 if table else 0
    )


@pytest.fixture(scope="module")
def points(li_net: RoadNetwork) -> list[Snap]:
    """Random snapped points, points on intersections, pairs on one two-way and one one-way edge."""
    rng = np.random.default_rng(2024)
    nodes = rng.choice(li_net.node_count, 120, replace=False)
    raw = [
        (li_net.node_lat[i] + rng.normal(0, 0.001), li_net.node_lon[i] + rng.normal(0, 0.001))
        for i in nodes[:100]
    ]
    raw += [(float(li_net.node_lat[i]), float(li_net.node_lon[i])) for i in nodes[100:]]
    snaps = li_net.snap_many(raw, max_distance_m=5000)
    g = li_net.compiled
    two_way = int(np.flatnonzero(g.edge_reverse >= 0)[0])
    one_way = int(np.flatnonzero((g.edge_reverse < 0) & (g.edge_src != g.edge_dst))[0])
    for edge in (two_way, one_way):
        rev = int(g.edge_reverse[edge])
        for fraction in (0.0, 0.3, 0.7, 1.0):
            snaps.append(Snap(0, 0, 0, 0, 0.0, edge=edge, fraction=fraction, reverse_edge=rev))
    return snaps


def test_table_matrix_equals_dijkstra_matrix_exactly(
    li_net: RoadNetwork, points: list[Snap]
) -> None:
    """Below and above the threshold: identical seconds and metres, same-edge cases included."""
    searched = _with_table(li_net, table=False)
    tabled = _with_table(li_net, table=True)
    assert not searched.uses_table
    assert tabled.uses_table
    by_search = searched.travel_matrix(points, points)
    by_table = tabled.travel_matrix(points, points)
    assert tabled.table_origin == "computed"
    assert searched.table_origin is None
    np.testing.assert_array_equal(by_table.seconds, by_search.seconds)
    np.testing.assert_array_equal(by_table.metres, by_search.metres)
    assert np.all(np.diag(by_table.seconds) == 0.0)
    # The one-way pair (last four points): forward along the edge, backward around the block.
    g = li_net.compiled
    edge = points[-1].edge
    assert by_table.seconds[-3, -2] == pytest.approx(0.4 * float(g.edge_seconds[edge]))
    assert by_table.seconds[-2, -3] > by_table.seconds[-3, -2]


def test_rectangular_and_batched_table_matrices(
    li_net: RoadNetwork, points: list[Snap], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Few targets (gathered columns), source batches and empty sides give the same numbers."""
    searched = _with_table(li_net, table=False)
    tabled = _with_table(li_net, table=True)
    sources, targets = points[::3], points[5:9]
    expected = searched.travel_matrix(sources, targets)
    monkeypatch.setattr(network_mod, "_BATCH_ELEMENTS", 16)  # a handful of sources per batch
    got = tabled.travel_matrix(sources, targets)
    np.testing.assert_array_equal(got.seconds, expected.seconds)
    np.testing.assert_array_equal(got.metres, expected.metres)
    for net in (searched, tabled):
        assert net.travel_matrix([], targets).shape == (0, 4)
        assert net.travel_matrix(sources, []).shape == (len(sources), 0)


def test_route_path_agrees_with_the_table_matrix(li_net: RoadNetwork, points: list[Snap]) -> None:
    """Paths still come from a search; their totals are the table's entries exactly."""
    tabled = _with_table(li_net, table=True)
    pairs = [(0, 1), (3, 40), (-4, -1), (-1, -4), (-7, -6)]
    matrix = tabled.travel_matrix(points, points)
    for i, j in pairs:
        path = tabled.route_path(points[i], points[j])
        assert path.seconds == matrix.seconds[i, j]
        assert path.metres == matrix.metres[i, j]


def test_build_stores_the_table_and_a_cache_hit_reads_it(
    li_net: RoadNetwork, network_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The build writes ``*.table-*.npy`` beside the ``.npz``; a later load never recomputes."""
    assert li_net.uses_table
    assert li_net.cache_file is not None
    li_net.ensure_table()  # no-op if the build already did it
    tables = list(network_cache.glob("*.table-*.npy"))
    assert [t.name.split(".table-")[0] for t in tables] == [li_net.cache_file.stem]
    size = tables[0].stat().st_size
    assert size == pytest.approx(_table.table_bytes(li_net.node_count), abs=256)

    def refuse(*_args: object) -> None:
        raise AssertionError("the table was recomputed on a cache hit")

    monkeypatch.setattr(_table, "compute_table", refuse)
    again = load_region(LIECHTENSTEIN, cache_dir=network_cache)
    assert again.from_cache
    assert again.table_origin is None  # opened on the first matrix, not at load
    snaps = again.snap_many([(47.1410, 9.5209), (47.1660, 9.5097)])
    matrix = again.travel_matrix(snaps, snaps)
    assert again.table_origin == "cache"
    np.testing.assert_array_equal(matrix.seconds, li_net.travel_matrix(snaps, snaps).seconds)


def test_damaged_table_is_recomputed_and_rewritten(li_net: RoadNetwork, tmp_path: Path) -> None:
    """A truncated table file is a cache miss: computed again and written whole."""
    assert li_net.cache_file is not None
    li_net.ensure_table()
    cache = tmp_path / "cache"
    cache.mkdir()
    shutil.copy(li_net.cache_file, cache)
    table_file = next(li_net.cache_file.parent.glob(f"{li_net.cache_file.stem}.table-*.npy"))
    damaged = cache / table_file.name
    damaged.write_bytes(table_file.read_bytes()[:5000])
    net = load_region(LIECHTENSTEIN, cache_dir=cache)
    assert net.from_cache
    assert net.ensure_table()
    assert net.table_origin == "computed"
    assert damaged.stat().st_size == table_file.stat().st_size
    reloaded = load_region(LIECHTENSTEIN, cache_dir=cache)
    reloaded.ensure_table()
    assert reloaded.table_origin == "cache"


def test_threshold_is_a_load_parameter(li_net: RoadNetwork, network_cache: Path) -> None:
    """Above ``table_max_nodes`` a region searches per source and uses the row cache."""
    big = load_region(LIECHTENSTEIN, cache_dir=network_cache, table_max_nodes=1000)
    assert li_net.node_count > 1000
    assert not big.uses_table
    assert not big.ensure_table()
    snaps = big.snap_many([(47.1410, 9.5209), (47.1660, 9.5097)])
    big.travel_matrix(snaps, snaps)
    big.travel_matrix(snaps, snaps)
    assert big.table_origin is None
    assert big.rows.hits == 2
