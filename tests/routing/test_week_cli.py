"""``fieldrep plan week`` on CSV files and the bundled extract: JSON, baseline, bad input."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from backend.cli.main import app
from routing.network import RoadNetwork

LIECHTENSTEIN = Path(__file__).resolve().parents[2] / "routing" / "data" / "liechtenstein.osm.pbf"
runner = CliRunner()
ACCOUNTS = """id,lat,lon,visit_min,cadence_days,last_visit,priority,opening_hours
schaan,47.1660,9.5097,30,14,2026-11-20,60,
triesen,47.1067,9.5286,45,7,,80,Mo-Fr 08:00-12:00
eschen,47.2107,9.5223,30,30,2026-11-06,40,
shut,47.2197,9.5428,30,14,,20,Sa 09:00-12:00
"""
REP = "id,lat,lon,shift_start,shift_end\nann,47.1410,9.5209,08:00,17:00\n"


def _files(tmp_path: Path, accounts: str = ACCOUNTS) -> list[str]:
    (tmp_path / "accounts.csv").write_text(accounts, encoding="utf-8")
    (tmp_path / "rep.csv").write_text(REP, encoding="utf-8")
    return [str(tmp_path / "accounts.csv"), str(tmp_path / "rep.csv")]


def _run(tmp_path: Path, cache: Path, *extra: str, accounts: str = ACCOUNTS) -> Result:
    args = ["plan", "week", str(LIECHTENSTEIN), *_files(tmp_path, accounts)]
    args += ["--start", "2026-12-07", "--cache-dir", str(cache), *extra]
    return runner.invoke(app, args)


def test_json_has_days_stops_and_unscheduled_with_reasons(
    tmp_path: Path, network_cache: Path, li_net: RoadNetwork
) -> None:
    """Five days with stops (account, arrival, departure), drive and visit seconds, reasons."""
    result = _run(tmp_path, network_cache, "--json", "--timezone", "Europe/Vaduz")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [d["date"] for d in doc["days"]] == [f"2026-12-{d:02d}" for d in range(7, 12)]
    stops = [s for d in doc["days"] for s in d["stops"]]
    assert {"account_id", "arrival", "departure"} <= set(stops[0])
    assert {"drive_s", "visit_s"} <= set(doc["days"][0])
    assert {s["account_id"] for s in stops} >= {"schaan", "triesen", "eschen"}
    assert [(u["account_id"], u["reason_code"]) for u in doc["unscheduled"]] == [("shut", "closed")]
    assert doc["coverage"]["due"] >= 4


def test_daily_baseline_runs_on_the_same_files(
    tmp_path: Path, network_cache: Path, li_net: RoadNetwork
) -> None:
    """``--baseline daily`` plans each day alone and says so."""
    result = _run(tmp_path, network_cache, "--json", "--baseline", "daily")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["method"] == "daily"
    assert len(doc["days"]) == 5


def test_bad_input_exits_2_naming_the_field(
    tmp_path: Path, network_cache: Path, li_net: RoadNetwork
) -> None:
    """A cadence of 0, a horizon of 21 days, a bad date: exit 2 with the culprit named."""
    zero = ACCOUNTS.replace("schaan,47.1660,9.5097,30,14", "schaan,47.1660,9.5097,30,0")
    result = _run(tmp_path, network_cache, accounts=zero)
    assert result.exit_code == 2
    assert "accounts[0].cadence_days" in " ".join(result.output.split())
    result = _run(tmp_path, network_cache, "--days", "21")
    assert result.exit_code == 2
    assert "field: days" in result.output
    bad = ACCOUNTS.replace("2026-11-20", "20.11.2026")
    result = _run(tmp_path, network_cache, accounts=bad)
    assert result.exit_code == 2
    assert "last_visit must be a date" in " ".join(result.output.split())
