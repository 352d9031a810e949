"""Benchmark of the field account list and the coverage report on PostGIS.

1. ``myAccounts`` first page (50) for a rep with 2,000 accounts, through the whole ASGI app
   (JWT, viewer, GraphQL), ordered by NAME, PRIORITY and DISTANCE (near, 5 km). The cases run
   round-robin (one request of each per round), so a burst of load from other jobs on the
   machine hits every case alike. The heap is settled as ``fieldrep serve`` does at start-up
   (``backend.heap.settle_heap``; ``--no-settle-heap`` leaves CPython's defaults). Baseline in
   the same run: the naive approach that computes each account's last visit with its own query.
2. The coverage report of a team of 50 reps x 40 weeks of visits (40 accounts per rep, half of
   them visited weekly: 40,000 visits), for the whole 40 weeks and for the last 4 weeks.
   Baseline: the naive per-account query (count and last visit per account).

Creates its own database ``fieldrep_bench_<pid>`` on 127.0.0.1:5432 as user postgres and drops
it afterwards.

Usage:
    python bench/bench_accounts.py [--repeats 200] [--no-settle-heap] [--out bench/results/accounts.md]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from backend.app import create_app
from backend.auth import policy
from backend.auth.tokens import issue_token
from backend.auth.viewer import load_viewer
from backend.db.migrate import upgrade_to_head
from backend.db.models import Account, User, Visit
from backend.heap import settle_heap
from backend.runtime import Runtime
from backend.services import analytics
from backend.settings import Settings
from tests.factories_visits import seed_big_team

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PAGE = """query($orderBy: AccountOrderBy!, $filter: AccountFilterInput) {
  myAccounts(first: 50, orderBy: $orderBy, filter: $filter) {
    totalCount edges { cursor node { id name tier location { lat lon } lastVisitAt distanceM
      priority { score reasons dueInDays overdueDays } } } pageInfo { hasNextPage endCursor } } }"""


async def admin_exec(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def stats(samples: list[float]) -> tuple[float, float]:
    """Median and p95 in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered) * 1000, p95 * 1000


async def round_robin(
    cases: dict[str, Callable[[], Awaitable[object]]], repeats: int, warmup: int = 5
) -> dict[str, list[float]]:
    """Samples per case, one request of each case per round."""
    for fn in cases.values():
        for _ in range(warmup):
            await fn()
    samples: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(repeats):
        for label, fn in cases.items():
            start = time.perf_counter()
            await fn()
            samples[label].append(time.perf_counter() - start)
    return samples


async def timed(fn: Callable[[], Awaitable[object]], repeats: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        await fn()
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return samples


async def run(repeats: int, settle: bool) -> list[str]:
    name = f"fieldrep_bench_{os.getpid()}"
    await admin_exec(f"DROP DATABASE IF EXISTS {name}")
    await admin_exec(f"CREATE DATABASE {name}")
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    lines: list[str] = []
    try:
        await asyncio.to_thread(upgrade_to_head, url)
        settings = Settings(
            environment="test",
            database_url=url,
            secret_key="bench-" + "x" * 40,
            query_cost_per_minute=10**9,  # the rate limiter is not what we measure
        )
        runtime = Runtime.create(settings)
        monday = date(2024, 1, 1)
        t0 = time.perf_counter()
        big = await seed_big_team(
            runtime, reps=50, accounts_per_rep=40, weeks=40, first_monday=monday, name="Coverage"
        )
        solo = await seed_big_team(
            runtime,
            reps=1,
            accounts_per_rep=2000,
            weeks=4,
            first_monday=date(2025, 1, 6),
            name="Solo",
        )
        async with runtime.sessionmaker() as session, session.begin():
            # last_visit_at as the check-in path maintains it
            last = (
                select(Visit.account_id, func.max(Visit.check_in_at).label("last"))
                .group_by(Visit.account_id)
                .subquery()
            )
            await session.execute(
                Account.__table__.update()
                .where(Account.id == last.c.account_id)
                .values(last_visit_at=last.c.last)
            )
        async with runtime.engine.connect() as conn:
            await conn.exec_driver_sql("ANALYZE")
        seed_s = time.perf_counter() - t0
        lines.append(
            f"Seeded {big.visits:,} + {solo.visits:,} visits, "
            f"{len(big.account_ids) + len(solo.account_ids):,} accounts in {seed_s:.1f} s."
        )

        async with runtime.sessionmaker() as session:
            user_id = await session.scalar(select(User.id).where(User.email == "solo-0@x.test"))
            assert user_id is not None
            viewer = await load_viewer(session, user_id)
            assert viewer is not None
        token = issue_token(user_id, "rep", settings.secret_key, timedelta(hours=1))
        app = create_app(runtime=runtime)
        if settle:
            settle_heap(force=True)  # what the app's start-up does in `fieldrep serve`
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def page(order: str, filter_: dict[str, object] | None = None) -> None:
                response = await client.post(
                    "/graphql",
                    json={"query": PAGE, "variables": {"orderBy": order, "filter": filter_}},
                    headers=headers,
                )
                body = response.json()
                assert "errors" not in body, body
                assert len(body["data"]["myAccounts"]["edges"]) == 50

            near = {"near": {"lat": 47.0, "lon": 9.6, "radiusM": 5000.0}}
            lines += [
                "",
                "| myAccounts first page (50), rep with 2,000 accounts | median ms | p95 ms |",
                "|---|---:|---:|",
            ]

            async def floor() -> None:
                response = await client.post(
                    "/graphql", json={"query": "{ me { id } }"}, headers=headers
                )
                assert "errors" not in response.json()

            cases: dict[str, Callable[[], Awaitable[object]]] = {
                "floor: `{ me { id } }` through the same app (auth, viewer, GraphQL)": floor
            }
            for label, order, flt in (
                ("orderBy NAME", "NAME", None),
                ("orderBy PRIORITY", "PRIORITY", None),
                ("orderBy DISTANCE, near 5 km", "DISTANCE", near),
                ("orderBy PRIORITY, filter due", "PRIORITY", {"due": True}),
            ):
                cases[label] = lambda o=order, f=flt: page(o, f)
            load_before = os.getloadavg()[0]
            samples = await round_robin(cases, repeats)
            load_after = os.getloadavg()[0]
            results = {label: stats(values) for label, values in samples.items()}
            for label, (median, p95) in results.items():
                lines.append(f"| {label} | {median:.1f} | {p95:.1f} |")

        async def naive_page() -> None:
            """Baseline: ORM rows, then one last-visit query per account, then sort."""
            async with runtime.sessionmaker() as session:
                accounts = (
                    await session.scalars(select(Account).where(policy.accounts_visible_to(viewer)))
                ).all()
                lasts = {}
                for account in accounts:
                    lasts[account.id] = await session.scalar(
                        select(func.max(Visit.check_in_at)).where(Visit.account_id == account.id)
                    )
                sorted(accounts, key=lambda a: (lasts[a.id] is not None, lasts[a.id] or 0))[:50]

        naive = stats(await timed(naive_page, max(3, repeats // 40), warmup=1))
        ours = results["orderBy PRIORITY"]
        lines.append(
            f"| baseline: naive per-account last-visit query (N+1) | {naive[0]:.1f} | "
            f"{naive[1]:.1f} |"
        )
        lines.append("")
        lines.append(f"PRIORITY page vs naive baseline (median): {naive[0] / ours[0]:.1f}x faster.")
        lines.append(
            f"Load average (1 min) before / after the myAccounts rounds: {load_before:.2f} / "
            f"{load_after:.2f} on {os.cpu_count()} cores (shared with other jobs). "
            f"Heap {'settled as at server start-up' if settle else 'left at CPython defaults'}."
        )

        last_monday = monday + timedelta(weeks=39)
        whole = analytics.Period(monday, last_monday + timedelta(days=6), ZoneInfo("UTC"))
        recent = analytics.Period(
            last_monday - timedelta(weeks=3), last_monday + timedelta(days=6), ZoneInfo("UTC")
        )

        async def coverage(period: analytics.Period) -> None:
            async with runtime.sessionmaker() as session:
                report = await analytics.coverage_report(
                    session, team_id=big.team_id, period=period, now=datetime.now(UTC)
                )
                assert report.total.accounts == 2000

        async def naive_coverage(period: analytics.Period) -> None:
            async with runtime.sessionmaker() as session:
                accounts = (
                    await session.scalars(select(Account).where(Account.team_id == big.team_id))
                ).all()
                for account in accounts:
                    await session.execute(
                        select(func.count(), func.max(Visit.check_in_at)).where(
                            Visit.account_id == account.id,
                            Visit.check_in_at >= period.start_utc,
                            Visit.check_in_at < period.end_utc,
                        )
                    )

        cov_repeats = max(10, repeats // 10)
        lines += [
            "",
            "| Coverage report, 50 reps x 40 weeks (40,000 visits, 2,000 accounts) "
            "| median ms | p95 ms |",
            "|---|---:|---:|",
        ]
        for label, period in (("whole 40 weeks", whole), ("last 4 weeks", recent)):
            ours_cov = stats(await timed(lambda p=period: coverage(p), cov_repeats, warmup=2))
            lines.append(f"| {label} | {ours_cov[0]:.1f} | {ours_cov[1]:.1f} |")
        naive_cov = stats(await timed(lambda: naive_coverage(whole), 3, warmup=1))
        lines.append(
            f"| baseline: naive per-account query, whole 40 weeks | {naive_cov[0]:.1f} | "
            f"{naive_cov[1]:.1f} |"
        )
        whole_ours = stats(await timed(lambda: coverage(whole), cov_repeats, warmup=1))
        lines += [
            "",
            f"Coverage vs naive baseline (median): {naive_cov[0] / whole_ours[0]:.1f}x faster.",
        ]

        windshield_samples = []
        for _ in range(cov_repeats):
            start = time.perf_counter()
            async with runtime.sessionmaker() as session:
                await analytics.windshield_report(session, team_id=big.team_id, period=whole)
            windshield_samples.append(time.perf_counter() - start)
        ws = stats(windshield_samples)
        lines.append(
            f"Windshield report, same team, 40 weeks (2,000 rep-weeks, no breadcrumbs): "
            f"median {ws[0]:.1f} ms, p95 {ws[1]:.1f} ms."
        )
        await runtime.close()
    finally:
        await admin_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return lines


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        text = Path("/proc/cpuinfo").read_text()
        cpu = next(
            line.split(":", 1)[1].strip() for line in text.splitlines() if "model name" in line
        )
    except (OSError, StopIteration):
        pass
    try:
        pg = (
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-tAc", "select version()"],
                capture_output=True,
                text=True,
                check=False,
                timeout=10,
            )
            .stdout.strip()
            .split(",")[0]
        )
    except (OSError, subprocess.SubprocessError):
        pg = "PostgreSQL (version unknown)"
    return f"{cpu}, {os.cpu_count()} cores visible, Python {platform.python_version()}, {pg}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument(
        "--no-settle-heap",
        action="store_true",
        help="leave the garbage collector at CPython's defaults (no freeze after start-up)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/accounts.md"))
    args = parser.parse_args()
    lines = asyncio.run(run(args.repeats, settle=not args.no_settle_heap))
    header = [
        "# Accounts and coverage benchmark (PostGIS)",
        "",
        f"Machine: {machine()}.",
        f"Command: `python bench/bench_accounts.py --repeats {args.repeats}"
        f"{' --no-settle-heap' if args.no_settle_heap else ''}`",
        f"Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Targets: myAccounts first page < 30 ms "
        "p95; coverage 50 x 40 < 500 ms.",
        "",
    ]
    text = "\n".join(header + lines) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
