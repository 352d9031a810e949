"""``fieldrep plan week``: the multi-day planner on CSV files, and the daily baseline.

Thin shell over :mod:`routing.week`: reads ``ACCOUNTS.csv`` (``id,lat,lon,visit_min,
cadence_days,last_visit,priority[,opening_hours]``) and ``REP.csv`` (one row ``id,lat,lon,
shift_start,shift_end``), optional appointments and absences, plans the horizon, and prints a
table or the plan's JSON document (``--json``). ``--baseline daily`` plans each day on its own
with the day planner's rules (its 25 highest-scored accounts, by the backend's priority
score) for comparison. Exit code 2 for bad input, with a message naming the file, line and
field.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from backend.cli.routing_cmd import EXIT_BAD_INPUT, CacheOpt, RegionArg, _load
from routing.week import (
    Absence,
    Account,
    Appointment,
    Point,
    Rep,
    WeekPlan,
    WeekPlanError,
    WeekProblem,
    build_matrix,
    plan_daily_baseline,
    plan_to_json,
    plan_week,
)
from routing.week.metrics import coverage

app = typer.Typer(no_args_is_help=True)
_err = Console(stderr=True)
_out = Console()

ACCOUNT_COLUMNS = ("id", "lat", "lon", "visit_min", "cadence_days", "last_visit", "priority")
REP_COLUMNS = ("id", "lat", "lon", "shift_start", "shift_end")


class CsvError(ValueError):
    """A CSV file is malformed; the message names the file, line and column."""


def _rows(path: Path, needed: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {(c or "").strip().lower() for c in reader.fieldnames or []}
        missing = [c for c in needed if c not in columns]
        if missing:
            raise CsvError(
                f"{path}: missing column(s) {', '.join(missing)} (need {','.join(needed)})"
            )
        return [
            (
                reader.line_num,
                {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()},
            )
            for row in reader
        ]


def _value(path: Path, line: int, row: Mapping[str, str], column: str, kind: type) -> Any:
    raw = row.get(column, "")
    try:
        if kind is dt.date:
            return dt.date.fromisoformat(raw) if raw else None
        if kind is dt.time:
            return dt.time.fromisoformat(raw)
        return kind(raw)
    except ValueError:
        wanted = (
            "a date YYYY-MM-DD" if kind is dt.date else "HH:MM" if kind is dt.time else "a number"
        )
        raise CsvError(
            f"{path}, line {line} (id {row.get('id', '')!r}): {column} must be {wanted}, "
            f"got {raw!r}"
        ) from None


def read_accounts(path: Path) -> tuple[Account, ...]:
    """The book from ``ACCOUNTS.csv`` (an empty ``last_visit`` = never visited)."""
    out = []
    for line, row in _rows(path, ACCOUNT_COLUMNS):
        if not row["id"]:
            raise CsvError(f"{path}, line {line}: empty id")
        out.append(
            Account(
                id=row["id"],
                lat=_value(path, line, row, "lat", float),
                lon=_value(path, line, row, "lon", float),
                visit_min=_value(path, line, row, "visit_min", int),
                cadence_days=_value(path, line, row, "cadence_days", int),
                last_visit=_value(path, line, row, "last_visit", dt.date),
                priority=_value(path, line, row, "priority", float),
                opening_hours=row.get("opening_hours") or None,
                label=row.get("name") or None,
            )
        )
    if not out:
        raise CsvError(f"{path}: no accounts")
    return tuple(out)


def read_rep(path: Path) -> Rep:
    """The rep from ``REP.csv`` (exactly one row)."""
    rows = _rows(path, REP_COLUMNS)
    if len(rows) != 1:
        raise CsvError(f"{path}: need exactly one rep row, found {len(rows)}")
    line, row = rows[0]
    return Rep(
        id=row["id"],
        home=Point(_value(path, line, row, "lat", float), _value(path, line, row, "lon", float)),
        shift_start=_value(path, line, row, "shift_start", dt.time),
        shift_end=_value(path, line, row, "shift_end", dt.time),
    )


def read_appointments(path: Path) -> tuple[Appointment, ...]:
    """``account_id,date,start,duration_min[,id]`` rows."""
    return tuple(
        Appointment(
            account_id=row["account_id"],
            date=_value(path, line, row, "date", dt.date),
            start=_value(path, line, row, "start", dt.time),
            duration_min=_value(path, line, row, "duration_min", int),
            id=row.get("id") or None,
        )
        for line, row in _rows(path, ("account_id", "date", "start", "duration_min"))
    )


def read_absences(path: Path) -> tuple[Absence, ...]:
    """``date[,start,end,reason]`` rows (no start and end = the whole day)."""
    out = []
    for line, row in _rows(path, ("date",)):
        start = _value(path, line, row, "start", dt.time) if row.get("start") else None
        end = _value(path, line, row, "end", dt.time) if row.get("end") else None
        out.append(
            Absence(
                _value(path, line, row, "date", dt.date), start, end, row.get("reason") or "absence"
            )
        )
    return tuple(out)


def backend_scorer(
    accounts: Sequence[Account], last: Mapping[str, dt.date | None], day: dt.date
) -> dict[str, tuple[float, int]]:
    """The backend day planner's score and drop penalty for CSV accounts on ``day``.

    The CSV ``priority`` stands for the account's potential; overdue-ness comes from the
    cadence and the last visit, as in :func:`backend.services.priority.score_accounts`.
    """
    from backend.services.priority import AccountFacts, score_accounts

    now = dt.datetime.combine(day, dt.time(8, 0), tzinfo=dt.UTC)
    facts = [
        AccountFacts(
            id=i,
            potential=a.priority,
            cadence_days=a.cadence_days,
            last_visit_at=None
            if last.get(a.id) is None
            else dt.datetime.combine(last[a.id], dt.time(12, 0), tzinfo=dt.UTC),  # type: ignore[arg-type]
        )
        for i, a in enumerate(accounts)
    ]
    scores = score_accounts(facts, now)
    return {a.id: (scores[i].score, scores[i].penalty) for i, a in enumerate(accounts)}


def _next_working_day(today: dt.date) -> dt.date:
    day = today + dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _table(plan: WeekPlan, title: str) -> Table:
    table = Table(title=title)
    for column in ("date", "visits", "drive", "on site", "out", "note"):
        table.add_column(column)
    for d in plan.days:
        table.add_row(
            d.date.isoformat(),
            str(len(d.stops)),
            f"{d.drive_s / 60:.0f} min",
            f"{d.visit_s / 3600:.1f} h",
            f"{d.hours_s / 3600:.1f} h",
            "off" if d.off else (d.note or ""),
        )
    return table


@app.command()
def week(
    region: RegionArg,
    accounts_csv: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="ACCOUNTS.csv")],
    rep_csv: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="REP.csv (one row)")],
    start: Annotated[
        str | None,
        typer.Option("--start", help="First date YYYY-MM-DD (default: next working day)."),
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Working days to plan (1-20).")] = 5,
    baseline: Annotated[
        str | None, typer.Option("--baseline", help="'daily': plan each day on its own instead.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan's JSON on stdout.")
    ] = False,
    appointments_csv: Annotated[
        Path | None,
        typer.Option(
            "--appointments",
            exists=True,
            dir_okay=False,
            help="CSV account_id,date,start,duration_min[,id].",
        ),
    ] = None,
    absences_csv: Annotated[
        Path | None,
        typer.Option(
            "--absences", exists=True, dir_okay=False, help="CSV date[,start,end,reason]."
        ),
    ] = None,
    timezone: Annotated[
        str, typer.Option("--timezone", help="IANA zone of the opening hours.")
    ] = "UTC",
    share: Annotated[
        float,
        typer.Option("--spacing-share", help="Earliest next visit, as a share of the cadence."),
    ] = 0.7,
    cache_dir: CacheOpt = None,
) -> None:
    """Plan a rep's working days: every due visit on a day that keeps its cadence."""
    if baseline not in (None, "daily"):
        _err.print(f"[red]error:[/] --baseline must be 'daily', got {baseline!r}")
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        first = dt.date.fromisoformat(start) if start else _next_working_day(dt.date.today())
    except ValueError:
        _err.print(f"[red]error:[/] --start must be a date YYYY-MM-DD, got {start!r}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    try:
        problem = WeekProblem(
            rep=read_rep(rep_csv),
            accounts=read_accounts(accounts_csv),
            start=first,
            days=days,
            appointments=read_appointments(appointments_csv) if appointments_csv else (),
            absences=read_absences(absences_csv) if absences_csv else (),
            spacing_share=share,
            timezone=timezone,
        )
    except (CsvError, OSError) as exc:
        _err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    net = _load(region, cache_dir, None)
    try:
        matrix = build_matrix(net, problem)
        plan = (
            plan_daily_baseline(problem, matrix, backend_scorer)
            if baseline
            else plan_week(problem, matrix)
        )
    except WeekPlanError as exc:
        _err.print(f"[red]error:[/] {exc} (field: {exc.field})")
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    cov = coverage(problem, plan)
    if as_json:
        doc = plan_to_json(plan, timezone=timezone)
        doc["coverage"] = {
            "due": cov.due,
            "made": cov.made,
            "on_time": cov.on_time,
            "day_spread": round(cov.spread, 3),
        }
        doc["method"] = "daily" if baseline else "week"
        typer.echo(json.dumps(doc, indent=1))
        return
    _out.print(_table(plan, f"{'daily baseline' if baseline else 'week plan'} from {first}"))
    per_visit = plan.drive_s / plan.visits if plan.visits else 0
    _out.print(
        f"{plan.visits} visits, {plan.drive_s / 3600:.1f} h driving ({per_visit / 60:.1f} min per "
        f"visit); due visits made {cov.made}/{cov.due}, on time {cov.on_time}"
    )
    for u in plan.unscheduled:
        _out.print(f"waits: {u.account_id}: {u.reason}")


__all__ = [
    "app",
    "backend_scorer",
    "read_absences",
    "read_accounts",
    "read_appointments",
    "read_rep",
]
