"""CLI round trip, oracles, polygons and KPIs of the territory engine."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from backend.cli.main import app
from routing.territories import (
    AccountOffNetworkError,
    RoadNetworkOracle,
    StraightLineOracle,
    TerritoryAccount,
    TerritoryRep,
    compute_kpis,
    design_territories,
    synthetic_instance,
    territory_polygons,
)


def _write(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as fh:
        wr = csv.writer(fh)
        wr.writerow(header)
        wr.writerows(rows)
    return path


@pytest.fixture
def csvs(tmp_path: Path) -> tuple[Path, Path, list[TerritoryAccount]]:
    accounts, reps = synthetic_instance(400, 4, seed=6)
    acc = _write(
        tmp_path / "accounts.csv",
        ["id", "lat", "lon", "workload_hours", "potential", "locked_rep"],
        [
            [a.id, a.lat, a.lon, a.workload_hours, a.potential, "r1" if a.id == "a0" else ""]
            for a in accounts
        ],
    )
    rep = _write(tmp_path / "reps.csv", ["id", "lat", "lon"], [[r.id, r.lat, r.lon] for r in reps])
    return acc, rep, accounts


def test_cli_design_then_realign_round_trip(tmp_path: Path, csvs) -> None:  # type: ignore[no-untyped-def]
    """design writes a full plan with KPIs; realign of that plan moves nothing."""
    acc, rep, accounts = csvs
    out = tmp_path / "plan.csv"
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "territories",
            "design",
            "-",
            str(acc),
            str(rep),
            "--straight-line",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["kpis"]["workload_max_deviation"] <= 0.05 + 1e-9
    assert {"dispersion_seconds", "weekly_drive_hours", "contiguity", "hull_overlap"} <= set(
        report["kpis"]
    )
    assert set(report["polygons"]) == {"r0", "r1", "r2", "r3"}
    with out.open() as fh:
        plan = {r["account_id"]: r["rep_id"] for r in csv.DictReader(fh)}
    assert set(plan) == {a.id for a in accounts}
    assert plan["a0"] == "r1"
    new = tmp_path / "new.csv"
    res = runner.invoke(
        app,
        [
            "territories",
            "realign",
            "-",
            str(acc),
            str(rep),
            str(out),
            "--straight-line",
            "--max-moved",
            "0.1",
            "--out",
            str(new),
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["moved"] == []


def test_cli_reports_bad_input(tmp_path: Path, csvs) -> None:  # type: ignore[no-untyped-def]
    """Fewer accounts than reps exits with code 2 and says why."""
    _, rep, _ = csvs
    few = _write(
        tmp_path / "few.csv",
        ["id", "lat", "lon", "workload_hours", "potential"],
        [["x", 47.0, 9.0, 1, 1]],
    )
    res = CliRunner().invoke(
        app,
        [
            "territories",
            "design",
            "-",
            str(few),
            str(rep),
            "--straight-line",
            "--out",
            str(tmp_path / "o.csv"),
        ],
    )
    assert res.exit_code == 2
    assert "cannot fill" in res.output


def test_straight_line_oracle_speed() -> None:
    """One degree of latitude (~111 km) at 50 km/h with detour 1.3 takes ~2.9 h."""
    s = StraightLineOracle().seconds(
        np.array([47.0]), np.array([9.0]), np.array([48.0]), np.array([9.0])
    )
    assert s.shape == (1, 1)
    assert s[0, 0] == pytest.approx(111.195 * 1.3 / 50 * 3600, rel=1e-3)


class _PointOffNetworkError(ValueError):
    pass


class FakeNetwork:
    """A 1-D road along a line of longitudes: node i at lon 9 + i/100, 36 s between nodes."""

    def __init__(self, nodes: int = 50) -> None:
        self.lons = 9.0 + np.arange(nodes) / 100.0

    def nearest_node(self, lat: float, lon: float) -> int:
        return int(np.argmin(np.abs(self.lons - lon)))

    def seconds_from_nodes(self, nodes: np.ndarray) -> np.ndarray:
        idx = np.arange(self.lons.shape[0])
        return np.abs(idx[None, :] - np.asarray(nodes)[:, None]).astype(np.float64) * 36.0

    def snap(self, lat: float, lon: float, label: str | None = None) -> int:
        if abs(lat - 47.0) > 0.05:
            raise _PointOffNetworkError(f"{label} is far from any road")
        return self.nearest_node(lat, lon)


def test_road_oracle_adapter_on_fake_network() -> None:
    """The adapter maps points to nodes and returns node-to-node seconds."""
    oracle = RoadNetworkOracle(FakeNetwork())
    s = oracle.seconds(
        np.array([47.0]), np.array([9.0]), np.array([47.0, 47.0]), np.array([9.1, 9.2])
    )
    assert s.tolist() == [[360.0, 720.0]]
    with pytest.raises(AccountOffNetworkError) as info:
        oracle.check_points(np.array([47.0, 48.0]), np.array([9.1, 9.1]), ["ok", "lost"])
    assert info.value.point_id == "lost"


def test_design_on_fake_road_network() -> None:
    """Design runs end to end on a road oracle and balances workload."""
    rng = np.random.default_rng(0)
    accounts = [
        TerritoryAccount(
            f"a{i}", 47.0, float(9.0 + rng.uniform(0, 0.49)), float(rng.uniform(1, 3)), 1.0
        )
        for i in range(200)
    ]
    reps = [TerritoryRep("w", 47.0, 9.05), TerritoryRep("e", 47.0, 9.45)]
    plan = design_territories(accounts, reps, RoadNetworkOracle(FakeNetwork()))
    assert plan.kpis is not None and plan.kpis.workload_max_deviation <= 0.05 + 1e-9
    west = [a.lon for a in accounts if plan.rep_of[a.id] == "w"]
    east = [a.lon for a in accounts if plan.rep_of[a.id] == "e"]
    assert max(west) <= min(east) + 0.011  # split along the road, not interleaved


@pytest.fixture(scope="module")
def liechtenstein(tmp_path_factory: pytest.TempPathFactory) -> RoadNetworkOracle:
    network = pytest.importorskip("routing.network")
    if not hasattr(network, "load_region"):
        pytest.skip("routing.network.load_region is not available yet")
    region = Path(__file__).parents[2] / "routing" / "data" / "liechtenstein.osm.pbf"
    net = network.load_region(region, cache_dir=tmp_path_factory.mktemp("net"))
    oracle = RoadNetworkOracle(net)
    oracle.node_lat, oracle.node_lon = net.node_lat, net.node_lon  # type: ignore[attr-defined]
    return oracle


def test_road_oracle_on_bundled_region(liechtenstein: RoadNetworkOracle) -> None:
    """A real region gives finite, positive road times."""
    s = liechtenstein.seconds(
        np.array([47.14]), np.array([9.52]), np.array([47.16, 47.08]), np.array([9.51, 9.50])
    )
    assert np.isfinite(s).all()
    assert (s > 0).all()


def test_design_on_bundled_region(liechtenstein: RoadNetworkOracle) -> None:
    """Design on road times balances workload; an account in a field far from roads is named."""
    rng = np.random.default_rng(4)
    node_lat = liechtenstein.node_lat  # type: ignore[attr-defined]
    node_lon = liechtenstein.node_lon  # type: ignore[attr-defined]
    idx = rng.choice(len(node_lat), 300, replace=False)
    accounts = [
        TerritoryAccount(
            f"a{i}", float(node_lat[j]), float(node_lon[j]), float(rng.uniform(1, 9)), 1.0
        )
        for i, j in enumerate(idx)
    ]
    north, south = int(np.argmax(node_lat)), int(np.argmin(node_lat))
    reps = [
        TerritoryRep("north", float(node_lat[north]), float(node_lon[north])),
        TerritoryRep("south", float(node_lat[south]), float(node_lon[south])),
    ]
    plan = design_territories(accounts, reps, liechtenstein)
    assert plan.kpis is not None
    assert plan.kpis.workload_max_deviation <= 0.05 + 1e-9
    off = TerritoryAccount("in-the-alps", 47.0, 9.9, 1.0, 1.0)
    with pytest.raises(AccountOffNetworkError) as info:
        design_territories([*accounts, off], reps, liechtenstein)
    assert info.value.point_id == "in-the-alps"


def test_polygons_and_kpis() -> None:
    """Polygons are valid WKT/GeoJSON; compute_kpis scores a hand-made plan."""
    accounts, reps = synthetic_instance(300, 3, seed=9)
    plan = design_territories(accounts, reps, StraightLineOracle())
    polys = territory_polygons(accounts, plan.rep_of)
    assert set(polys) == {"r0", "r1", "r2"}
    for p in polys.values():
        assert p.wkt.startswith("POLYGON")
        assert p.geojson["type"] == "Polygon"
        assert p.area_km2 > 0
    concave = territory_polygons(accounts, plan.rep_of, concave_ratio=0.3)
    assert all(c.area_km2 <= polys[r].area_km2 + 1e-6 for r, c in concave.items())
    moved = dict(plan.rep_of)
    moved["a0"] = "r0" if moved["a0"] != "r0" else "r1"
    k = compute_kpis(accounts, reps, moved, StraightLineOracle(), current=plan.rep_of)
    assert k.accounts_moved == 1
    assert len(k.territories) == 3
    assert k.weekly_drive_hours > 0
