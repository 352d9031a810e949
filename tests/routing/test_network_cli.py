"""``fieldrep routing build`` and ``fieldrep routing matrix`` on the bundled extract."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from backend.cli.routing_cmd import app
from routing.network import RoadNetwork

LIECHTENSTEIN = Path(__file__).resolve().parents[2] / "routing" / "data" / "liechtenstein.osm.pbf"
runner = CliRunner()


def _points(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "points.csv"
    path.write_text(body, encoding="utf-8")
    return path


def test_build_reports_the_cached_region(network_cache: Path, li_net: RoadNetwork) -> None:
    """A second build is a cache hit and says how big the network is."""
    result = runner.invoke(app, ["build", str(LIECHTENSTEIN), "--cache-dir", str(network_cache)])
    assert result.exit_code == 0, result.output
    assert "liechtenstein: loaded from cache" in result.output
    assert f"{li_net.node_count} intersections" in result.output


def test_matrix_json_matches_the_library(
    tmp_path: Path, network_cache: Path, li_net: RoadNetwork
) -> None:
    """JSON has ids, seconds and metres (row = source) and snap offsets per point."""
    csv = _points(tmp_path, "id,lat,lon\nvaduz,47.1410,9.5209\nschaan,47.1660,9.5097\n")
    args = ["matrix", str(LIECHTENSTEIN), str(csv), "--json", "--cache-dir", str(network_cache)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["ids"] == ["vaduz", "schaan"]
    snaps = li_net.snap_many([(47.1410, 9.5209), (47.1660, 9.5097)])
    expected = li_net.travel_matrix(snaps, snaps)
    np.testing.assert_allclose(payload["seconds"], expected.seconds, atol=0.051)
    np.testing.assert_allclose(payload["metres"], expected.metres, atol=0.051)
    assert [s["id"] for s in payload["snap"]] == ["vaduz", "schaan"]
    assert payload["snap"][0]["offset_m"] == round(snaps[0].offset_m, 1)


def test_matrix_rejects_bad_points_by_name(tmp_path: Path, network_cache: Path) -> None:
    """Missing columns, non-numbers, NaN and far-away points: exit 2 naming the culprit."""
    cases = {
        "name,lat,lon\na,47.14,9.52\n": "missing column(s) id",
        "id,lat,lon\nshop,north,9.52\n": "line 2 (id 'shop'): lat/lon must be numbers",
        "id,lat,lon\nshop,nan,9.52\n": "latitude of account 'shop' is nan",
        "id,lat,lon\nok,47.14,9.52\nzurich,47.3769,8.5417\n": "account 'zurich' is outside",
    }
    for body, message in cases.items():
        csv = _points(tmp_path, body)
        args = ["matrix", str(LIECHTENSTEIN), str(csv), "--cache-dir", str(network_cache)]
        result = runner.invoke(app, args)
        assert result.exit_code == 2, (body, result.output)
        assert message in " ".join(result.output.split()), (body, result.output)


def test_build_rejects_an_unknown_file_type(tmp_path: Path) -> None:
    """A CSV passed as a region is refused with the supported types listed."""
    bogus = _points(tmp_path, "id,lat,lon\n")
    result = runner.invoke(app, ["build", str(bogus), "--cache-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "unsupported file type" in result.output
