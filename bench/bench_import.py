"""Benchmark of the account import: 100,000 CSV rows into SQLite and into PostgreSQL/PostGIS.

Each repeat imports the same generated file (a realistic CRM export: id, name, street, city,
coordinates, tier, revenue, cadence, opening hours, segment) into a fresh, migrated database
through ``import_accounts`` in one transaction, as ``fieldrep import-accounts`` does, and is
timed from reading the text to the commit. A second timing re-imports the file with every
tenth row changed (the update path: 90,000 unchanged, 10,000 updated). Medians over the
repeats are reported; before issue 13's chunking, PostgreSQL failed the first import outright
(one ``IN`` list of 100,000 bind parameters, over asyncpg's 32,767).

Creates its own databases ``fieldrep_bench_import_<pid>_<n>`` on 127.0.0.1:5432 as user postgres
and drops them afterwards; the SQLite files live in a temporary folder.

Usage:
    python bench/bench_import.py [--rows 100000] [--repeats 3] [--out bench/results/import.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from backend.db.migrate import upgrade_to_head
from backend.db.models import Account
from backend.runtime import Runtime
from backend.services.account_import import import_accounts
from backend.settings import Settings
from bench.machine import cpu_model

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
HEADER = (
    "Account ID,Account Name,Billing Street,Billing City,Billing Latitude,Billing Longitude,"
    "Tier,Annual Revenue,Visit Cadence Days,Opening Hours,Industry\n"
)


def crm_export(rows: int, *, changed_every: int = 0) -> str:
    """``rows`` accounts spread over Liechtenstein; every ``changed_every``-th one renamed."""
    lines = [HEADER]
    for n in range(rows):
        renamed = changed_every and n % changed_every == 0
        lat = 47.05 + (n % 997) * 0.0002
        lon = 9.47 + (n // 997 % 991) * 0.0001
        lines.append(
            f"CRM{n:07d},{'Renamed' if renamed else 'Account'} {n} AG,Landstrasse {n % 200 + 1},"
            f"Vaduz,{lat:.5f},{lon:.5f},{'ABCD'[n % 4]},{(n % 50) * 1000 + 500},"
            f"{(7, 14, 30, 60)[n % 4]},Mo-Fr 08:00-17:00,{('Food', 'Retail', 'Tools')[n % 3]}\n"
        )
    return "".join(lines)


async def _pg(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _timed_import(settings: Settings, text: str, expected: int) -> float:
    runtime = Runtime.create(settings)
    try:
        started = time.perf_counter()
        async with runtime.sessionmaker() as session, session.begin():
            report = await import_accounts(session, text, default_team="Bench")
        elapsed = time.perf_counter() - started
        assert not report.errors, report.errors[:3]
        assert report.created + report.updated + report.unchanged == expected
        async with runtime.sessionmaker() as session:
            stored = await session.scalar(select(func.count()).select_from(Account))
        assert stored == expected, stored
        return elapsed
    finally:
        await runtime.close()


def run_store(
    store: str, rows: int, repeats: int, fresh: Callable[[int], tuple[str, Callable[[], None]]]
) -> tuple[list[float], list[float]]:
    """(first imports, re-imports with 10 % changed) in seconds, one per repeat."""
    text, changed = crm_export(rows), crm_export(rows, changed_every=10)
    first: list[float] = []
    again: list[float] = []
    for n in range(repeats):
        url, drop = fresh(n)
        try:
            upgrade_to_head(url)
            settings = Settings(environment="test", database_url=url, secret_key="b" * 48)
            first.append(asyncio.run(_timed_import(settings, text, rows)))
            again.append(asyncio.run(_timed_import(settings, changed, rows)))
            print(
                f"{store} #{n + 1}: {first[-1]:.1f} s new, {again[-1]:.1f} s re-import", flush=True
            )
        finally:
            drop()
    return first, again


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="fieldrep-bench-import-"))

    def sqlite(n: int) -> tuple[str, Callable[[], None]]:
        path = folder / f"import-{n}.sqlite3"
        return f"sqlite+aiosqlite:///{path}", lambda: path.unlink(missing_ok=True)

    def postgres(n: int) -> tuple[str, Callable[[], None]]:
        name = f"fieldrep_bench_import_{os.getpid()}_{n}"
        asyncio.run(_pg(f"DROP DATABASE IF EXISTS {name}"))
        asyncio.run(_pg(f"CREATE DATABASE {name}"))
        return (
            f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}",
            lambda: asyncio.run(_pg(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")),
        )

    results = {
        "SQLite": run_store("SQLite", args.rows, args.repeats, sqlite),
        "PostgreSQL": run_store("PostgreSQL", args.rows, args.repeats, postgres),
    }
    lines = [
        f"# Account import: {args.rows:,} rows, median of {args.repeats}",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}.",
        "",
        "| store | new accounts (s) | rows/s | re-import, 10 % changed (s) | runs (new) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for store, (first, again) in results.items():
        median = statistics.median(first)
        lines.append(
            f"| {store} | {median:.1f} | {args.rows / median:,.0f} | "
            f"{statistics.median(again):.1f} | {', '.join(f'{t:.1f}' for t in first)} |"
        )
    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        args.out.write_text(report)


if __name__ == "__main__":
    main()
