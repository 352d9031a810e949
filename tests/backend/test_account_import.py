"""CSV import: row-level validation with line numbers, atomic writes, idempotent re-import."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.db.models import Account, Team
from backend.runtime import Runtime
from backend.services.account_import import ImportFileError, import_accounts

SALESFORCE = """Account ID,Account Name,Billing Street,Billing City,Billing Latitude,Billing Longitude,Tier,Annual Revenue,Visit Cadence Days,Opening Hours
001A,Bäckerei Wolf,Städtle 1,Vaduz,47.1410,9.5215,A,120000,14,Mo-Fr 07:00-18:00
001B,Hilti Shop,Feldkircher Str. 100,Schaan,47.1650,9.5090,b,50000,30,
001C,No Coordinates,,,,,C,1000,30,
001D,Bad Lat,,,abc,9.5,C,1000,30,
001E,Out Of Range,,,95.0,9.5,C,1000,30,
001F,Bad Tier,,,47.1,9.5,Z,1000,30,
001A,Duplicate Of First,,,47.1,9.5,A,1,14,
001G,Negative Potential,,,47.1,9.5,C,-5,30,
001H,Zero Cadence,,,47.1,9.5,C,5,0,
001I,NaN Lat,,,nan,9.5,C,5,30,
"""


async def _import(runtime: Runtime, text: str, team: str | None = "Team CSV"):  # type: ignore[no-untyped-def]
    async with runtime.sessionmaker() as session, session.begin():
        return await import_accounts(session, text, default_team=team)


async def test_bad_rows_are_reported_by_line_and_good_rows_imported(runtime: Runtime) -> None:
    report = await _import(runtime, SALESFORCE)
    assert (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert [(e.line, e.field) for e in report.errors] == [
        (4, "lat"),
        (5, "lat"),
        (6, "lat"),
        (7, "tier"),
        (8, "external_id"),
        (9, "potential"),
        (10, "visit_cadence_days"),
        (11, "lat"),
    ]
    assert "already on line 2" in report.errors[4].reason
    assert "outside -90..90" in report.errors[2].reason
    async with runtime.sessionmaker() as session:
        rows = (
            (await session.execute(select(Account).order_by(Account.external_id))).scalars().all()
        )
        assert [(a.external_id, a.name, a.tier, a.location) for a in rows] == [
            ("001A", "Bäckerei Wolf", "A", (47.141, 9.5215)),
            ("001B", "Hilti Shop", "B", (47.165, 9.509)),
        ]
        assert rows[0].address == "Städtle 1, Vaduz"
        assert rows[0].opening_hours == "Mo-Fr 07:00-18:00"
        assert rows[0].visit_cadence_days == 14 and rows[1].opening_hours is None
        assert await session.scalar(select(func.count()).select_from(Team)) == 1


async def test_reimport_of_the_same_file_changes_nothing(runtime: Runtime) -> None:
    await _import(runtime, SALESFORCE)
    async with runtime.sessionmaker() as session:
        before = [
            (a.id, a.updated_at)
            for a in (await session.execute(select(Account).order_by(Account.id))).scalars()
        ]
    again = await _import(runtime, SALESFORCE)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    async with runtime.sessionmaker() as session:
        after = [
            (a.id, a.updated_at)
            for a in (await session.execute(select(Account).order_by(Account.id))).scalars()
        ]
    assert after == before


async def test_reimport_with_changes_updates_by_external_id(runtime: Runtime) -> None:
    await _import(runtime, SALESFORCE)
    changed = SALESFORCE.replace(
        "Hilti Shop,Feldkircher Str. 100,Schaan,47.1650",
        "Hilti Store,Feldkircher Str. 100,Schaan,47.1660",
    )
    report = await _import(runtime, changed)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 1)
    async with runtime.sessionmaker() as session:
        hilti = await session.scalar(select(Account).where(Account.external_id == "001B"))
        assert hilti is not None and (hilti.name, hilti.location) == (
            "Hilti Store",
            (47.166, 9.509),
        )
        assert await session.scalar(select(func.count()).select_from(Account)) == 2


async def test_a_crash_mid_import_leaves_nothing_behind(runtime: Runtime) -> None:
    """The import runs in the caller's transaction: an exception rolls every row back."""
    progress_calls = 0

    def explode(done: int, total: int) -> None:
        nonlocal progress_calls
        progress_calls += 1
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        async with runtime.sessionmaker() as session, session.begin():
            await import_accounts(session, SALESFORCE, default_team="T", progress=explode)
    assert progress_calls == 1
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Account)) == 0
        assert await session.scalar(select(func.count()).select_from(Team)) == 0


async def test_hubspot_style_headers_and_semicolons(runtime: Runtime) -> None:
    hubspot = (
        "Record ID;Company name;Latitude;Longitude;Industry\n77;Ospelt AG;47,1200;9,5300;Food\n"
    )
    report = await _import(runtime, hubspot)
    assert report.created == 1 and not report.errors
    async with runtime.sessionmaker() as session:
        account = await session.scalar(select(Account))
        assert account is not None
        assert (account.external_id, account.name, account.segment, account.lat, account.lon) == (
            "77",
            "Ospelt AG",
            "Food",
            47.12,
            9.53,
        )


def test_missing_required_columns_is_a_file_error() -> None:
    from backend.services.account_import import read_rows

    with pytest.raises(ImportFileError, match=r"missing required column\(s\): name"):
        read_rows("id,lat,lon\n1,47,9\n")
    with pytest.raises(ImportFileError, match="lat\\+lon or address"):
        read_rows("id,name\n1,x\n")


def test_cli_reports_line_numbers(tmp_path: Path, sqlite_template: Path) -> None:
    """`fieldrep import-accounts` prints rejected rows and exits 1 when some were rejected."""
    import shutil

    from typer.testing import CliRunner

    from backend.cli.main import app

    db = tmp_path / "cli.sqlite3"
    shutil.copy(sqlite_template, db)
    csv_file = tmp_path / "accounts.csv"
    csv_file.write_text(SALESFORCE)
    env = {"FIELDREP_DATABASE_URL": f"sqlite:///{db}", "FIELDREP_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["import-accounts", str(csv_file), "--team", "T"], env=env)
    assert result.exit_code == 1, result.output
    assert "line 4 (lat)" in result.output
    assert "created 2, updated 0, unchanged 0, rejected 8" in result.output
    again = CliRunner().invoke(app, ["import-accounts", str(csv_file), "--team", "T"], env=env)
    assert "created 0, updated 0, unchanged 2, rejected 8" in again.output


def test_cli_places_rows_without_coordinates_by_their_address(
    tmp_path: Path, sqlite_template: Path
) -> None:
    """A CRM export with addresses only: found ones are placed from the region's OSM data,
    the others are rejected with the reason, on their line."""
    import asyncio
    import shutil

    from typer.testing import CliRunner

    from backend.cli.main import app
    from backend.settings import Settings

    db = tmp_path / "geo.sqlite3"
    shutil.copy(sqlite_template, db)
    csv_file = tmp_path / "addresses.csv"
    csv_file.write_text(
        "Account ID,Account Name,Billing Street,Billing Postal Code,Billing City\n"
        "G1,Museum Shop,Städtle 43,9490,Vaduz\n"
        "G2,Wrong Town,Landstrasse 48,9490,Vaduz\n"
        "G3,No Such Street,Nowhere 1,9490,Vaduz\n"
    )
    env = {"FIELDREP_DATABASE_URL": f"sqlite:///{db}", "FIELDREP_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(app, ["import-accounts", str(csv_file), "--team", "T"], env=env)
    assert result.exit_code == 1, result.output
    assert "created 1, updated 0, unchanged 0, rejected 2" in result.output
    output = " ".join(result.output.split())
    assert "line 3 (address)" in output and "is in 9494 Schaan, not in Vaduz" in output
    assert "line 4 (address)" in output and "no street 'Nowhere'" in output

    async def stored() -> tuple[float, float]:
        from backend.runtime import Runtime

        runtime = Runtime.create(
            Settings(database_url=f"sqlite+aiosqlite:///{db}", data_dir=tmp_path)
        )
        try:
            async with runtime.sessionmaker() as session:
                account = await session.scalar(select(Account).where(Account.external_id == "G1"))
                assert account is not None
                return account.lat, account.lon
        finally:
            await runtime.close()

    lat, lon = asyncio.run(stored())
    assert 47.136 < lat < 47.140 and 9.520 < lon < 9.525
