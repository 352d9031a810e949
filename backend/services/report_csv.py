"""CSV renderings of the analytics reports (plain rows; the CLI writes them).

Shares and ratios are written as fractions with four decimals and empty when there is no data,
so a spreadsheet does not read "no data" as zero.

Every cell goes through :func:`neutralise` on the way out: names, labels and territories come
from CRM imports and managers, and a spreadsheet runs a cell that starts with ``=``, ``+``,
``-``, ``@``, a tab or a carriage return as a formula (``=HYPERLINK(...)`` that leaks the sheet,
DDE that starts a program). Such cells get a leading single quote (OWASP "CSV Injection"), which
spreadsheets show as text; numbers we formatted ourselves (``-12.5``) stay numbers.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from typing import TextIO

from backend.services.analytics import CoverageReport, CoverageRow, WindshieldRow

COVERAGE_HEADER = (
    "dimension",
    "key",
    "label",
    "rep_id",
    "accounts",
    "covered",
    "share",
    "potential_total",
    "potential_covered",
    "potential_share",
    "visits",
)
OVERDUE_HEADER = (
    "account_id",
    "name",
    "rep_id",
    "territory",
    "tier",
    "cadence_days",
    "last_visit_at",
    "overdue_days",
)
WINDSHIELD_HEADER = (
    "rep_id",
    "rep_name",
    "week_start",
    "planned_days",
    "planned_drive_s",
    "planned_visit_s",
    "planned_ratio",
    "actual_drive_s",
    "actual_visit_s",
    "actual_ratio",
)


FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet evaluate a cell (OWASP's list)."""
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def neutralise(cell: str) -> str:
    """Return ``cell`` safe to open in a spreadsheet: formula starts prefixed with ``'``.

    A plain decimal number (``-3``, ``-0.25``) is left alone: it is what a numeric column holds,
    and a spreadsheet reads it as a number, never as a formula.

    Example:
        >>> neutralise("=1+2"), neutralise("-12.5"), neutralise("-1+2"), neutralise("Wolf")
        ("'=1+2", '-12.5', "'-1+2", 'Wolf')
    """
    if cell.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def _fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _coverage_line(dimension: str, row: CoverageRow) -> list[str]:
    return [
        dimension,
        row.key,
        row.label,
        "" if row.rep_id is None else str(row.rep_id),
        str(row.accounts),
        str(row.covered),
        _fraction(row.share),
        f"{row.potential_total:.2f}",
        f"{row.potential_covered:.2f}",
        _fraction(row.potential_share),
        str(row.visits),
    ]


def coverage_rows(report: CoverageReport) -> list[list[str]]:
    """Header plus one line per group: team total, then reps, territories, tiers."""
    lines = [list(COVERAGE_HEADER), _coverage_line("team", report.total)]
    for dimension, rows in (
        ("rep", report.by_rep),
        ("territory", report.by_territory),
        ("tier", report.by_tier),
    ):
        lines += [_coverage_line(dimension, row) for row in rows]
    return lines


def overdue_rows(report: CoverageReport) -> list[list[str]]:
    """Header plus the overdue list (never-visited accounts first, then most overdue)."""
    lines = [list(OVERDUE_HEADER)]
    for o in report.overdue:
        lines.append(
            [
                str(o.account_id),
                o.name,
                "" if o.rep_id is None else str(o.rep_id),
                o.territory,
                o.tier or "",
                str(o.cadence_days),
                o.last_visit_at.isoformat() if o.last_visit_at else "",
                "" if o.overdue_days is None else str(o.overdue_days),
            ]
        )
    return lines


def windshield_rows(rows: Sequence[WindshieldRow]) -> list[list[str]]:
    """Header plus one line per rep and week."""
    lines = [list(WINDSHIELD_HEADER)]
    for r in rows:
        lines.append(
            [
                str(r.rep_id),
                r.rep_name,
                r.week_start.isoformat(),
                str(r.planned_days),
                f"{r.planned_drive_s:.0f}",
                f"{r.planned_visit_s:.0f}",
                _fraction(r.planned_ratio),
                f"{r.actual_drive_s:.0f}",
                f"{r.actual_visit_s:.0f}",
                _fraction(r.actual_ratio),
            ]
        )
    return lines


def write_csv(out: TextIO, lines: Iterable[Sequence[str]]) -> None:
    """Write ``lines`` as RFC 4180 CSV, every cell through :func:`neutralise`.

    Lines end in CRLF as RFC 4180 says; it also makes the writer quote a cell holding a bare
    carriage return (it quotes only the line terminator's characters), which with ``\n`` would
    split one name over two rows.
    """
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerows([neutralise(cell) for cell in line] for line in lines)


__all__ = [
    "FORMULA_PREFIXES",
    "coverage_rows",
    "neutralise",
    "overdue_rows",
    "windshield_rows",
    "write_csv",
]
