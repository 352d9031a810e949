"""``fieldrep bench solomon``: other solvers in the same run, scored alike, routes reported."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from backend.cli.bench_cmd import family
from backend.cli.main import app
from routing.vrp import check_routes, read_solomon, route_set_distance

DATA = Path(__file__).resolve().parents[1] / "data" / "vrp"


def test_against_pyvrp_reports_routes_that_re_check(tmp_path: Path) -> None:
    """Each solver's routes are in the report; re-scoring them gives the reported figures."""
    out = tmp_path / "run.json"
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "solomon",
            str(DATA),
            "--time-limit",
            "0.5",
            "--only",
            "C101",
            "--against",
            "pyvrp,nosuchsolver",
            "--routes",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert "nosuchsolver" in report["skipped"]
    (row,) = report["instances"]
    assert row["instance"] == "C101" and row["reference"] == 828.94
    inst = read_solomon(DATA / "C101.vrp")
    assert set(row["solvers"]) == {"fieldrep", "pyvrp"}
    for entry in row["solvers"].values():
        assert check_routes(inst, entry["routes"]) == []
        assert round(route_set_distance(inst, entry["routes"]), 4) == entry["distance"]
        assert entry["gap_pct"] == round(100 * (entry["distance"] / 828.94 - 1), 3)
    assert report["summary"]["pyvrp"]["infeasible"] == 0


def test_family_of_solomon_and_gehring_homberger_names() -> None:
    """R1_2_3 and R103 are both family R1; RC2 names are not read as R."""
    assert [family(n) for n in ("R103", "R1_2_3", "RC208", "rc2_2_1", "C1_2_10")] == [
        "R1",
        "R1",
        "RC2",
        "RC2",
        "C1",
    ]
