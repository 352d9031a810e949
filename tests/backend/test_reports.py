"""`fieldrep report coverage|windshield` writes the same numbers as the API, as CSV."""

from __future__ import annotations

import asyncio
import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli.report_cmd import app
from backend.runtime import Runtime
from backend.settings import Settings
from tests.backend.test_analytics import FROM, TO, seed_coverage
from tests.conftest import World, seed_world


@pytest.fixture
def seeded(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> World:
    async def build() -> World:
        runtime = Runtime.create(settings)
        try:
            world = await seed_world(runtime)
            await seed_coverage(runtime, world)
            return world
        finally:
            await runtime.close()

    world = asyncio.run(build())
    monkeypatch.setenv("FIELDREP_DATABASE_URL", settings.effective_database_url)
    return world


def test_coverage_and_overdue_csv(seeded: World, tmp_path: Path) -> None:
    out = tmp_path / "coverage.csv"
    result = CliRunner().invoke(
        app, ["coverage", "--team", "Team A", "--from", FROM, "--to", TO, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    team = rows[0]
    assert (team["dimension"], team["accounts"], team["covered"], team["share"]) == (
        "team",
        "6",
        "2",
        "0.3333",
    )
    assert [(r["key"], r["accounts"], r["covered"]) for r in rows if r["dimension"] == "tier"] == [
        ("A", "2", "1"),
        ("B", "2", "1"),
        ("(none)", "2", "0"),
    ]
    overdue = CliRunner().invoke(
        app, ["coverage", "--team", str(seeded.teams["A"]), "--from", FROM, "--to", TO, "--overdue"]
    )
    lines = list(csv.DictReader(overdue.stdout.splitlines()))
    assert [r["overdue_days"] for r in lines] == ["", "30", "5"]


def test_windshield_csv_and_errors(seeded: World, tmp_path: Path) -> None:
    out = tmp_path / "w.csv"
    result = CliRunner().invoke(
        app, ["windshield", "--team", "Team A", "--from", FROM, "--to", TO, "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 8
    assert {r["planned_ratio"] for r in rows} == {""}
    missing = CliRunner().invoke(app, ["windshield", "--team", "Nope", "--from", FROM, "--to", TO])
    assert missing.exit_code == 2
    backwards = CliRunner().invoke(
        app, ["coverage", "--team", "Team A", "--from", TO, "--to", FROM]
    )
    assert backwards.exit_code == 2
