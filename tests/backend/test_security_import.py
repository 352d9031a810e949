"""Account import: bad rows are line-numbered rejections, other teams are never touched, big
files import on both stores, and the CLI reads any encoding and prints data as plain text
(issue 13, item 12 and the import CLI in "Low")."""

from __future__ import annotations

import asyncio
import codecs
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from backend.cli.main import app
from backend.db.models import Account, Team
from backend.runtime import Runtime
from backend.services.account_import import import_accounts
from backend.services.import_encoding import NotTextError, decode_import_bytes
from backend.settings import Settings
from tests.conftest import World

HEADER = "Account ID,Account Name,Latitude,Longitude,Segment,Opening Hours,Team\n"


def _line(ext: str, name: str, lat: str = "47.14", lon: str = "9.52", **extra: str) -> str:
    fields = [
        ext,
        name,
        lat,
        lon,
        extra.get("segment", ""),
        extra.get("hours", ""),
        extra.get("team", ""),
    ]
    return ",".join(f'"{f}"' if ("," in f or '"' in f) else f for f in fields) + "\n"


async def _import(runtime: Runtime, text: str, team: str | None = "Team CSV"):  # type: ignore[no-untyped-def]
    async with runtime.sessionmaker() as session, session.begin():
        return await import_accounts(session, text, default_team=team)


async def _count(runtime: Runtime) -> int:
    async with runtime.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(Account)) or 0)


async def test_more_rows_than_postgresql_has_bind_parameters(runtime: Runtime) -> None:
    """33,000 rows (over PostgreSQL's 32,767 parameters in one IN list), then again as updates:
    every statement is chunked."""
    rows = 33_000
    text = HEADER + "".join(
        _line(f"X{n}", f"Account {n}", "47.1", f"{9 + n / 100_000:.5f}") for n in range(rows)
    )
    report = await _import(runtime, text)
    assert (report.created, report.updated, report.unchanged, report.errors) == (rows, 0, 0, [])
    assert await _count(runtime) == rows
    renamed = text.replace("Account 1", "Renamed 1")  # Account 1, 10..19, 100..199, ...
    again = await _import(runtime, renamed)
    changed = sum(1 for n in range(rows) if str(n).startswith("1"))
    assert (again.created, again.updated, again.unchanged) == (0, changed, rows - changed)
    async with runtime.sessionmaker() as session:
        row = await session.scalar(select(Account).where(Account.external_id == "X12345"))
        assert row is not None and row.name == "Renamed 12345"


async def test_nul_and_over_long_values_are_rejections_on_their_line(runtime: Runtime) -> None:
    """Before: a NUL or a 10,000-character name aborted the whole import on PostgreSQL with
    the SQL and parameters in the traceback (and SQLite stored them)."""
    text = (
        HEADER
        + _line("OK1", "Bäckerei Wolf")
        + _line("NUL", "Evil\x00Name")  # line 3
        + _line("LONG", "N" * 10_000)  # line 4
        + _line("I" * 101, "Long id")  # line 5
        + _line("SEG", "Long segment", segment="S" * 101)  # line 6
        + _line("HRS", "Long hours", hours="H" * 2001)  # line 7
        + _line("TEAM", "Long team", team="T" * 201)  # line 8
        + _line("NULLAT", "Nul lat", lat="47\x00.1")  # line 9
        + _line("LAT", "Bad lat", lat="91")  # line 10
        + _line("LON", "No lon", lon="")  # line 11
        + _line("INF", "Infinite", lat="inf")  # line 12
        + _line("OK2", "Hilti")  # line 13
    )
    report = await _import(runtime, text)
    assert [(e.line, e.field) for e in report.errors] == [
        (3, "name"),
        (4, "name"),
        (5, "external_id"),
        (6, "segment"),
        (7, "opening_hours"),
        (8, "team"),
        (9, "lat"),
        (10, "lat"),
        (11, "lon"),
        (12, "lat"),
    ]
    assert "NUL" in report.errors[0].reason and "300" in report.errors[1].reason
    assert report.created == 2
    async with runtime.sessionmaker() as session:
        names = (await session.scalars(select(Account.name).order_by(Account.external_id))).all()
    assert names == ["Bäckerei Wolf", "Hilti"]


async def test_a_row_the_csv_module_cannot_read_is_a_rejection(runtime: Runtime) -> None:
    """A field over the csv module's size limit (131,072) raised out of the import before."""
    text = HEADER + _line("A", "Fine") + _line("B", "x" * 200_000) + _line("C", "Also fine")
    report = await _import(runtime, text)
    assert [(e.line, e.field) for e in report.errors] == [(3, None)]
    assert "unreadable CSV" in report.errors[0].reason
    assert report.created == 2


async def test_another_teams_external_id_is_refused_and_its_account_untouched(
    runtime: Runtime, world: World
) -> None:
    """Before: importing into Team B with an id of Team A's account moved that account (and
    renamed it). External ids are unique across teams (uq_accounts_external_id), so the row
    is a rejection with the reason; Team A's account is exactly as it was."""
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            Account(external_id="FREE", name="No team yet", lat=47.1, lon=9.5, location=(47.1, 9.5))
        )
    text = (
        HEADER
        + _line("a1-0", "Stolen", team="Team B")  # Team A's account, into Team B
        + _line("a1-1", "Stolen too", team="Brand New Team")  # into a team that is created
        + _line("a1-2", "No team named")  # no team at all (default_team None below)
        + _line("b1-0", "Team B renames its own", team="Team B")
        + _line("FREE", "Claimed", team="Team B")  # an account of no team may be claimed
    )
    report = await _import(runtime, text, team=None)
    assert [(e.line, e.field) for e in report.errors] == [
        (2, "external_id"),
        (3, "external_id"),
        (4, "external_id"),
    ]
    assert "another team's account" in report.errors[0].reason
    assert "name the team" in report.errors[2].reason
    assert (report.created, report.updated, report.teams_created) == (0, 2, 0)
    async with runtime.sessionmaker() as session:
        accounts = {
            a.external_id: a
            for a in (
                await session.scalars(
                    select(Account).where(
                        Account.external_id.in_(["a1-0", "a1-1", "a1-2", "b1-0", "FREE"])
                    )
                )
            ).all()
        }
        team_names = set((await session.scalars(select(Team.name))).all())
    for ext in ("a1-0", "a1-1", "a1-2"):
        assert (accounts[ext].team_id, accounts[ext].name) == (world.teams["A"], f"Acct {ext}")
    assert (accounts["b1-0"].team_id, accounts["b1-0"].name) == (
        world.teams["B"],
        "Team B renames its own",
    )
    assert (accounts["FREE"].team_id, accounts["FREE"].name) == (world.teams["B"], "Claimed")
    assert "Brand New Team" not in team_names  # no team is created for a rejected row


# --- the CLI: encodings and markup --------------------------------------------------------

CLI_HEADER = "Account ID,Account Name,Latitude,Longitude\n"


@pytest.fixture
def cli_env(settings: Settings, tmp_path: Path) -> dict[str, str]:
    return {
        "FIELDREP_DATABASE_URL": settings.effective_database_url,
        "FIELDREP_DATA_DIR": str(tmp_path),
    }


def _cli(env: dict[str, str], path: Path) -> Result:
    return CliRunner().invoke(app, ["import-accounts", str(path), "--team", "T"], env=env)


def _no_crash(result: Result) -> None:
    """Exited by itself (typer.Exit), not by an exception's traceback."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and "[SQL:" not in result.output, result.output


def _names(settings: Settings) -> list[str]:
    """Stored account names (the CLI runs its own event loop, so these tests are sync)."""

    async def read() -> list[str]:
        runtime = Runtime.create(settings)
        try:
            async with runtime.sessionmaker() as session:
                names = await session.scalars(select(Account.name).order_by(Account.external_id))
                return list(names.all())
        finally:
            await runtime.close()

    return asyncio.run(read())


@pytest.mark.parametrize(
    ("encoding", "bom", "note"),
    [
        ("cp1252", b"", "Windows-1252"),
        ("latin-1", b"", "Windows-1252"),
        ("utf-8", codecs.BOM_UTF8, None),
        ("utf-16-le", codecs.BOM_UTF16_LE, None),
        ("utf-16-be", codecs.BOM_UTF16_BE, None),
        ("utf-16-le", b"", "UTF-16-LE"),
    ],
)
def test_cli_reads_spreadsheet_encodings(
    settings: Settings,
    cli_env: dict[str, str],
    tmp_path: Path,
    encoding: str,
    bom: bytes,
    note: str | None,
) -> None:
    """Before: anything but UTF-8 ended in a UnicodeDecodeError traceback."""
    path = tmp_path / "accounts.csv"
    path.write_bytes(
        bom
        + (CLI_HEADER + "1,Bäckerei Müller,47.14,9.52\n2,Café Crème,47.15,9.53\n").encode(encoding)
    )
    result = _cli(cli_env, path)
    _no_crash(result)
    assert result.exit_code == 0, result.output
    assert "created 2" in result.output
    if note:
        assert note in result.output
    assert _names(settings) == ["Bäckerei Müller", "Café Crème"]


@pytest.mark.parametrize(
    "content",
    [
        b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00" + bytes(range(256)) * 8,  # .xlsx
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 500,
        b"\x1f\x8b\x08\x00" + bytes(2000),
    ],
    ids=["xlsx", "png", "gzip"],
)
def test_cli_refuses_binary_files_with_a_reason(
    cli_env: dict[str, str], tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "accounts.csv"
    path.write_bytes(content)
    result = _cli(cli_env, path)
    _no_crash(result)
    assert result.exit_code == 2, result.output
    assert "not a text file" in result.output


def test_cli_prints_names_with_markup_as_text(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Before: ``[/]`` in a field crashed rich ("closing tag '[/]' has nothing to close")."""
    path = tmp_path / "accounts.csv"
    path.write_text(
        CLI_HEADER
        + "[/],Shop [bold]big[/bold] [/],47.14,9.52\n"
        + "[red]x[/],Bad [/] lat,abc,9.5\n"
        + "[/],Same id again,47.1,9.5\n",  # the reason quotes the id: "'[/]' already on line 2"
        encoding="utf-8",
    )
    result = _cli(cli_env, path)
    _no_crash(result)
    assert result.exit_code == 1, result.output
    assert "latitude 'abc' is not a number" in result.output
    assert "external id '[/]' already on line 2" in result.output
    assert "created 1" in result.output
    assert _names(settings) == ["Shop [bold]big[/bold] [/]"]


def test_cli_rejects_a_nul_row_without_a_traceback(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    """Both stores: the NUL row is listed by line; the SQL never reaches the terminal."""
    path = tmp_path / "accounts.csv"
    path.write_bytes((CLI_HEADER + "1,Good,47.14,9.52\n2,Bad\x00Name,47.14,9.52\n").encode())
    result = _cli(cli_env, path)
    _no_crash(result)
    assert result.exit_code == 1, result.output
    assert "line 3 (name)" in " ".join(result.output.split())
    assert _names(settings) == ["Good"]


def test_decoder_rules() -> None:
    assert decode_import_bytes("a,b\n".encode("utf-16")).encoding == "utf-16"
    assert decode_import_bytes(codecs.BOM_UTF8 + b"a\n").text == "a\n"
    one_nul = b"id,name\n" + b"1,fine\n" * 20 + b"2,\x00x\n"
    assert decode_import_bytes(one_nul).encoding == "utf-8"  # one NUL is a row's problem
    assert decode_import_bytes(b"id,name\n1,caf\x81\n").encoding == "latin-1"  # 0x81: not cp1252
    with pytest.raises(NotTextError, match="starts like UTF-8"):
        decode_import_bytes(codecs.BOM_UTF8 + b"\xff\xfe\xfd")
    with pytest.raises(NotTextError, match="not a text file"):
        decode_import_bytes(bytes(range(32)) * 10)
