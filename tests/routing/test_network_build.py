"""Building regions: file types, the on-disk cache, speed profiles, bad extracts, businesses."""

from __future__ import annotations

import bz2
import copy
import shutil
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from routing.network import (
    DEFAULT_SPEED_PROFILE,
    CorruptExtractError,
    ExtractNotFoundError,
    InvalidCoordinateError,
    NoDrivableRoadsError,
    RegionDownloadError,
    RoadNetwork,
    SpeedProfile,
    UnsupportedExtractError,
    extract_businesses,
    load_place,
    load_region,
)
from routing.network._compiled import compile_graph
from routing.network._extract import build_drive_graph

DATA = Path(__file__).resolve().parents[2] / "routing" / "data"
LIECHTENSTEIN = DATA / "liechtenstein.osm.pbf"
MONACO = DATA / "monaco.osm.pbf"

# A 3x3 street grid (~110 m blocks) in Vaduz; the middle east-west street is one-way eastwards.
_NODES = "".join(
    f'<node id="{1 + r * 3 + c}" lat="{47.14 + r * 0.001:.6f}" lon="{9.52 + c * 0.0015:.6f}"/>'
    for r in range(3)
    for c in range(3)
)
_BUSINESSES = (
    '<node id="100" lat="47.1405" lon="9.5208"><tag k="shop" v="bakery"/>'
    '<tag k="name" v="Bäckerei Test"/><tag k="addr:street" v="Städtle"/>'
    '<tag k="addr:housenumber" v="38"/><tag k="addr:postcode" v="9490"/>'
    '<tag k="addr:city" v="Vaduz"/><tag k="opening_hours" v="Mo-Fr 07:00-18:00"/></node>'
    '<node id="101" lat="47.1406" lon="9.5209"><tag k="shop" v="kiosk"/></node>'
    '<node id="102" lat="47.1407" lon="9.5210"><tag k="amenity" v="bench"/>'
    '<tag k="name" v="Bank by the river"/></node>'
    '<node id="103" lat="47.1410" lon="9.5240"/><node id="104" lat="47.1410" lon="9.5250"/>'
    '<node id="105" lat="47.1416" lon="9.5250"/>'
    '<way id="200"><nd ref="103"/><nd ref="104"/><nd ref="105"/><nd ref="103"/>'
    '<tag k="building" v="yes"/><tag k="office" v="it"/><tag k="name" v="Code AG"/></way>'
)


def _street(way_id: int, refs: list[int], *tags: tuple[str, str]) -> str:
    nds = "".join(f'<nd ref="{r}"/>' for r in refs)
    tag_xml = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in (("highway", "residential"), *tags))
    return f'<way id="{way_id}">{nds}{tag_xml}</way>'


def _osm(body: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">{body}</osm>'


GRID = _osm(
    _NODES
    + _BUSINESSES
    + _street(10, [1, 2, 3])
    + _street(11, [4, 5, 6], ("oneway", "yes"))
    + _street(12, [7, 8, 9])
    + _street(13, [1, 4, 7])
    + _street(14, [2, 5, 8])
    + _street(15, [3, 6, 9])
)


def _stages(path: Path, cache: Path, **kwargs: object) -> tuple[RoadNetwork, list[str]]:
    seen: list[str] = []
    net = load_region(path, cache_dir=cache, progress=lambda s, _f: seen.append(s), **kwargs)  # type: ignore[arg-type]
    return net, seen


def test_osm_and_bz2_extracts_build_the_same_one_way_network(tmp_path: Path) -> None:
    """Plain and bzip2 OSM XML give the same graph; the one-way street is respected."""
    plain = tmp_path / "grid.osm"
    plain.write_text(GRID, encoding="utf-8")
    packed = tmp_path / "grid.osm.bz2"
    packed.write_bytes(bz2.compress(GRID.encode()))
    a = load_region(plain, cache_dir=tmp_path / "cache")
    b = load_region(packed, cache_dir=tmp_path / "cache")
    assert a.region_name == "grid"
    assert a.content_hash != b.content_hash
    # Corners (two streets meeting, no choice) are simplified away: 5 junctions remain.
    assert a.node_count == b.node_count == 5
    assert a.edge_count == b.edge_count
    west, east = a.snap(47.141, 9.5205), a.snap(47.141, 9.5235)  # on the one-way street
    m = a.travel_matrix([west, east], [west, east])
    mb = b.travel_matrix(b.snap_many([(47.141, 9.5205), (47.141, 9.5235)]), [west, east])
    np.testing.assert_allclose(mb.seconds, m.seconds)
    assert west.reverse_edge == -1
    assert m.seconds[1, 0] > m.seconds[0, 1] * 2  # backwards means driving round the block


def test_second_load_uses_the_cache_and_never_reparses(tmp_path: Path) -> None:
    """Cache hit: no parse stage, identical arrays; the key is the content, not the name."""
    extract = tmp_path / "monaco.osm.pbf"
    shutil.copyfile(MONACO, extract)
    cache = tmp_path / "cache"
    built, first = _stages(extract, cache)
    assert not built.from_cache
    assert "reading the extract (osmium)" in first
    assert len(list(cache.glob("*.npz"))) == 1

    cached, second = _stages(extract, cache)
    assert cached.from_cache
    assert second == ["hashing monaco.osm.pbf", "loading the cached network", "loaded from cache"]
    for name in ("indptr", "edge_dst", "edge_seconds", "edge_metres", "node_lat", "geom_lat"):
        np.testing.assert_array_equal(getattr(cached.compiled, name), getattr(built.compiled, name))
    assert cached.compiled.edge_seconds.dtype == np.float32
    assert cached.compiled.edge_dst.dtype == np.int32

    renamed = tmp_path / "elsewhere" / "mc-2025.osm.pbf"
    renamed.parent.mkdir()
    extract.rename(renamed)
    moved, third = _stages(renamed, cache)
    assert moved.from_cache and moved.region_name == "mc-2025"
    assert "reading the extract (osmium)" not in third

    cache_file = next(cache.glob("*.npz"))
    cache_file.write_bytes(cache_file.read_bytes()[:1000])  # a damaged cache is rebuilt
    rebuilt, fourth = _stages(renamed, cache)
    assert not rebuilt.from_cache and "reading the extract (osmium)" in fourth
    assert rebuilt.node_count == built.node_count


def test_speed_profile_is_part_of_the_cache_key(tmp_path: Path, li_net: RoadNetwork) -> None:
    """Slower residential streets: a second cache file and slower residential edges."""
    slow = DEFAULT_SPEED_PROFILE.with_overrides(name="slow", residential=15.0)
    assert slow.version != DEFAULT_SPEED_PROFILE.version
    cache = tmp_path / "cache"
    net = load_region(LIECHTENSTEIN, cache_dir=cache, speeds=slow)
    assert net.speed_profile_version == slow.version
    assert not net.from_cache
    ratio = li_net.compiled.edge_seconds.sum() / net.compiled.edge_seconds.sum()
    assert ratio < 0.8
    # Edges with a maxspeed tag keep their speed: not every edge doubled.
    doubled = np.isclose(net.compiled.edge_seconds, 2 * li_net.compiled.edge_seconds, rtol=1e-4)
    assert 0.3 < doubled.mean() < 1.0


def test_speed_profile_from_toml_and_maxspeed_parsing(tmp_path: Path) -> None:
    """A deployment's TOML overrides defaults; symbolic and mph limits are understood."""
    toml = tmp_path / "speeds.toml"
    toml.write_text('name = "alpine"\nfallback_kmh = 35\n[highway_kmh]\nresidential = 25\n')
    profile = SpeedProfile.from_toml(toml)
    assert profile.highway_kmh["residential"] == 25.0
    assert profile.highway_kmh["primary"] == DEFAULT_SPEED_PROFILE.highway_kmh["primary"]
    assert profile.version.startswith("alpine-")
    assert profile.speed_for_maxspeed("CH:urban") == 50.0
    assert profile.speed_for_maxspeed("30 mph") == pytest.approx(48.28, abs=0.01)
    assert profile.speed_for_maxspeed("none") is None
    toml.write_text("[highway_kmh]\nresidential = -5\n")
    with pytest.raises(ValueError, match="residential"):
        SpeedProfile.from_toml(toml)


def test_compiled_graph_matches_the_osmnx_graph() -> None:
    """Node-to-node times equal NetworkX on OSMnx's own graph; one-ways have no twin edge."""
    graph = build_drive_graph(MONACO, DEFAULT_SPEED_PROFILE, lambda _s, _f: None)
    meta = {"content_hash": "test", "speed_profile_version": DEFAULT_SPEED_PROFILE.version}
    net = RoadNetwork(compile_graph(copy.deepcopy(graph), meta), region_name="monaco")
    assert net.node_count == graph.number_of_nodes()
    assert net.edge_count == graph.number_of_edges()
    one_way = sum(1 for _, _, d in graph.edges(data=True) if d["oneway"])
    assert int((net.compiled.edge_reverse < 0).sum()) == one_way
    rng = np.random.default_rng(7)
    osmids = net.node_osmid
    picks = rng.choice(net.node_count, 12, replace=False)
    snaps = net.snap_many([(net.node_lat[i], net.node_lon[i]) for i in picks])
    assert all(s.offset_m < 1e-3 for s in snaps)
    m = net.travel_matrix(snaps, snaps)
    for r, i in enumerate(picks):
        ref = nx.single_source_dijkstra_path_length(graph, int(osmids[i]), weight="travel_time")
        expected = [ref[int(osmids[j])] for j in picks]
        np.testing.assert_allclose(m.seconds[r], expected, rtol=1e-5, atol=0.02)


@pytest.mark.parametrize(
    ("name", "content", "error", "message"),
    [
        ("roads.geojson", b"{}", UnsupportedExtractError, "unsupported file type"),
        ("empty.osm.pbf", b"", CorruptExtractError, r"is empty \(0 bytes\)"),
        ("garbage.osm.pbf", bytes(range(256)) * 8, CorruptExtractError, "could not be read"),
        ("garbage.osm.bz2", b"BZh9 not really", CorruptExtractError, "could not be read"),
        ("broken.osm", b"<osm><node id=", CorruptExtractError, "could not be read"),
        ("nothing.osm", _osm("").encode(), CorruptExtractError, "no OpenStreetMap elements"),
        (
            "paths.osm",
            _osm(_NODES + _street(1, [1, 2, 3], ("highway", "footway")))
            .replace('v="residential"/><tag k="highway" ', "")
            .encode(),
            NoDrivableRoadsError,
            "contains no drivable roads",
        ),
        (
            "lone.osm",
            _osm(_NODES + _street(1, [1, 2, 3], ("oneway", "yes"))).encode(),
            NoDrivableRoadsError,
            "do not form a connected network",
        ),
    ],
)
def test_bad_extracts_are_clear_errors(
    tmp_path: Path, name: str, content: bytes, error: type[Exception], message: str
) -> None:
    """Each bad extract raises its own error naming the file; nothing is cached."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error, match=message) as info:
        load_region(path, cache_dir=tmp_path / "cache")
    assert name in str(info.value)
    assert not list((tmp_path / "cache").glob("*.npz")) if (tmp_path / "cache").exists() else True


def test_truncated_pbf_is_corrupt(tmp_path: Path) -> None:
    """Half a real extract is reported as unreadable, not as an empty region."""
    path = tmp_path / "half.osm.pbf"
    path.write_bytes(MONACO.read_bytes()[: MONACO.stat().st_size // 2])
    with pytest.raises(CorruptExtractError, match=r"half\.osm\.pbf"):
        load_region(path, cache_dir=tmp_path)


def test_missing_extract(tmp_path: Path) -> None:
    """A path that does not exist says so."""
    with pytest.raises(ExtractNotFoundError, match=r"nowhere\.osm\.pbf does not exist"):
        load_region(tmp_path / "nowhere.osm.pbf", cache_dir=tmp_path)


def test_load_place_validates_before_going_online(tmp_path: Path) -> None:
    """Bad queries fail without a network call (the download itself needs the internet)."""
    with pytest.raises(InvalidCoordinateError, match="bounding box"):
        load_place((47.2, 9.6, 47.1, 9.5), cache_dir=tmp_path)
    with pytest.raises(InvalidCoordinateError, match="latitude"):
        load_place((float("nan"), 9.5, 47.2, 9.6), cache_dir=tmp_path)
    with pytest.raises(RegionDownloadError, match="empty"):
        load_place("  ", cache_dir=tmp_path)


def test_extract_businesses_from_nodes_and_ways(tmp_path: Path) -> None:
    """Named businesses only, with kind, opening hours, address; ways at their centre."""
    path = tmp_path / "town.osm"
    path.write_text(GRID, encoding="utf-8")
    found = {b.name: b for b in extract_businesses(path)}
    assert set(found) == {"Bäckerei Test", "Code AG"}  # unnamed kiosk and bench left out
    bakery = found["Bäckerei Test"]
    assert bakery.osm_id == "node/100"
    assert bakery.kind == "shop=bakery"
    assert bakery.opening_hours == "Mo-Fr 07:00-18:00"
    assert bakery.address == "Städtle 38, 9490 Vaduz"
    office = found["Code AG"]
    assert office.osm_id == "way/200" and office.kind == "office=it" and office.address is None
    assert office.lat == pytest.approx((47.1410 * 3 + 47.1416) / 4)


def test_extract_businesses_from_liechtenstein() -> None:
    """The bundled extract yields real named shops, offices and the like."""
    businesses = extract_businesses(LIECHTENSTEIN)
    assert len(businesses) > 100
    assert all(b.name and "=" in b.kind for b in businesses)
    assert any(b.kind == "shop=supermarket" and b.name == "Coop" for b in businesses)
    assert len({b.osm_id for b in businesses}) == len(businesses)
    with pytest.raises(UnsupportedExtractError):
        extract_businesses(Path("accounts.csv"))
