"""``fieldrep report coverage|windshield``: the manager reports as CSV files.

The CLI is an operator's tool with database access, so it reads any team (no viewer); the
same services answer the GraphQL ``coverage`` and ``windshield`` queries.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer
from rich.console import Console
from rich.markup import escape
from sqlalchemy import select

from backend.settings import Settings

app = typer.Typer(no_args_is_help=True)
_err = Console(stderr=True)

EXIT_BAD_INPUT = 2

FromOpt = Annotated[
    datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="First day (team time zone).")
]
ToOpt = Annotated[datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="Last day, included.")]
TeamOpt = Annotated[str, typer.Option("--team", help="Team name or numeric id.")]
OutOpt = Annotated[
    Path | None, typer.Option("--out", help="CSV file to write (default: standard output).")
]


def _run(
    kind: Literal["coverage", "overdue", "windshield"],
    team: str,
    start: date,
    end: date,
    out: Path | None,
) -> None:
    from backend.db.models import Team
    from backend.runtime import Runtime
    from backend.services import analytics
    from backend.services.report_csv import (
        coverage_rows,
        overdue_rows,
        windshield_rows,
        write_csv,
    )
    from backend.services.timeutil import utc_now

    if end < start:
        _err.print("[red]error:[/] --to must not be before --from")
        raise typer.Exit(EXIT_BAD_INPUT)
    settings = Settings()

    async def build() -> list[list[str]] | None:
        runtime = Runtime.create(settings)
        try:
            async with runtime.sessionmaker() as session:
                clause = Team.id == int(team) if team.isdigit() else Team.name == team
                row = await session.scalar(select(Team).where(clause))
                if row is None:
                    return None
                try:
                    tz = ZoneInfo(row.timezone)
                except (ZoneInfoNotFoundError, ValueError):
                    tz = ZoneInfo("UTC")
                period = analytics.Period(start, end, tz)
                if kind == "windshield":
                    return windshield_rows(
                        await analytics.windshield_report(session, team_id=row.id, period=period)
                    )
                report = await analytics.coverage_report(
                    session, team_id=row.id, period=period, now=utc_now(), overdue_limit=10**9
                )
                return coverage_rows(report) if kind == "coverage" else overdue_rows(report)
        finally:
            await runtime.close()

    lines = asyncio.run(build())
    if lines is None:
        _err.print(f"[red]error:[/] team {escape(repr(team))} not found")  # data, not markup
        raise typer.Exit(EXIT_BAD_INPUT)
    if out is None:
        write_csv(sys.stdout, lines)
        return
    with out.open("w", newline="", encoding="utf-8") as handle:
        write_csv(handle, lines)
    _err.print(f"wrote {len(lines) - 1} rows to {escape(str(out))}")


@app.command()
def coverage(
    team: TeamOpt,
    from_: FromOpt,
    to: ToOpt,
    out: OutOpt = None,
    overdue: Annotated[
        bool, typer.Option("--overdue", help="Write the overdue account list instead.")
    ] = False,
) -> None:
    """Coverage per rep, territory and tier (or, with --overdue, the overdue accounts)."""
    _run("overdue" if overdue else "coverage", team, from_.date(), to.date(), out)


@app.command()
def windshield(team: TeamOpt, from_: FromOpt, to: ToOpt, out: OutOpt = None) -> None:
    """Planned and actual windshield time per rep and ISO week."""
    _run("windshield", team, from_.date(), to.date(), out)
