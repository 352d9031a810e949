"""Day-plan benchmark: 25 and 60 candidates on the Liechtenstein road network, matrix included.

Times the whole service path (`plan_day`: candidates, snapping, travel matrix, opening hours,
OR-Tools, leg geometry) on a throwaway SQLite database, median over repeats, and compares the
default "thorough" search with the "quick" baseline (short local search) in the same run: time
and plan quality (stops planned, drive time).

    python bench/bench_dayplan.py [--repeats 5] [--out bench/results/dayplan.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from backend.db.migrate import upgrade_to_head
from backend.db.models import Account, AlignmentState, Role
from backend.runtime import Runtime
from backend.services.alignments import store_alignment
from backend.services.dayplan import PlanOptions, plan_day
from backend.services.people import create_rep, create_user, get_or_create_team
from backend.settings import Settings, bundled_region_path

MONDAY = dt.date(2026, 11, 23)


async def seed(runtime: Runtime, count: int) -> int:
    from routing.network import PointOffNetworkError, extract_businesses

    net = await runtime.road_network()
    rng = random.Random(11)
    places = [
        (b.lat, b.lon, b.name, b.opening_hours) for b in extract_businesses(bundled_region_path())
    ]
    while len(places) < count + 1:  # top up with road nodes when the extract has too few POIs
        node = rng.randrange(net.node_count)
        places.append((float(net.node_lat[node]), float(net.node_lon[node]), f"Site {node}", None))
    rng.shuffle(places)
    async with runtime.sessionmaker() as session, session.begin():
        team = await get_or_create_team(session, "Bench")
        user = await create_user(
            session,
            email="bench@x",
            password="x",
            full_name="Bench Rep",
            role=Role.REP,
            team=team,
            password_hash="x",
        )
        home = places[0]
        rep = await create_rep(session, user=user, team=team, home=(home[0], home[1]))
        ids = []
        for lat, lon, name, hours in places[1 : count + 1]:
            try:
                net.snap(lat, lon)
            except PointOffNetworkError:
                continue
            a = Account(
                external_id=name + str(len(ids)),
                team_id=team.id,
                name=name,
                lat=lat,
                lon=lon,
                location=(lat, lon),
                opening_hours=hours,
                visit_duration_min=rng.choice((20, 30, 45)),
                potential=rng.uniform(1e3, 1e5),
                last_visit_at=dt.datetime(2026, 9, 1, tzinfo=dt.UTC)
                - dt.timedelta(days=rng.randrange(60)),
            )
            session.add(a)
            await session.flush()
            ids.append(a.id)
        await store_alignment(
            session,
            team_id=team.id,
            name="b",
            rep_of_account=dict.fromkeys(ids, rep.id),
            state=AlignmentState.ACTIVE,
        )
    return rep.id


async def measure(
    runtime: Runtime, rep: int, candidates: int, effort: str, repeats: int
) -> dict[str, float]:
    net = await runtime.road_network()
    times, plan = [], None
    for _ in range(repeats):
        async with runtime.sessionmaker() as session:
            start = time.perf_counter()
            record = await plan_day(
                session, net, rep, MONDAY, PlanOptions(max_candidates=candidates, effort=effort)
            )
            times.append(time.perf_counter() - start)
            plan = record.plan
    assert plan is not None
    covered = sum(stop["priority"] for stop in plan["stops"])
    return {
        "median_s": statistics.median(times),
        "stops": plan["totals"]["stops"],
        "drive_s": plan["totals"]["drive_seconds"],
        "priority": covered,
    }


async def main(repeats: int, out: Path, tmp: str) -> None:
    if True:
        settings = Settings(data_dir=Path(tmp), database_url=f"sqlite:///{tmp}/bench.sqlite3")
        runtime = Runtime.create(settings)
        rep = await seed(runtime, 70)
        await measure(runtime, rep, 25, "quick", 1)  # warm-up: network load, first solve
        rows = []
        for candidates in (25, 60):
            ours = await measure(runtime, rep, candidates, "thorough", repeats)
            base = await measure(runtime, rep, candidates, "quick", repeats)
            rows.append((candidates, ours, base))
            print(candidates, ours, base)
        await runtime.close()
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        "## Day plans (issue 4)",
        "",
        f"Machine: {cpu}, 2 cores, Python {platform.python_version()}. Command: `python bench/bench_dayplan.py --repeats {repeats}`.",
        "Whole service path (candidates, snapping, matrix, opening hours, OR-Tools, leg geometry) on the",
        "Liechtenstein network, one rep with 70 accounts at real OSM businesses (topped up with road nodes).",
        "Baseline in the same run: the `quick` effort (first solution + 20-solution local search, no ruin-and-recreate).",
        "",
        "Priority covered = sum of the planned stops' priority scores (what the prize-collecting objective trades",
        "against drive time).",
        "",
        "| candidates | thorough: median time | stops | priority covered | drive | quick: median time | stops | priority covered | drive | target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for candidates, ours, base in rows:
        target = "< 1 s" if candidates == 25 else "< 3 s"
        lines.append(
            f"| {candidates} | {ours['median_s']:.2f} s | {ours['stops']} | {ours['priority']:.0f} | {ours['drive_s'] / 60:.1f} min | {base['median_s']:.2f} s | {base['stops']} | {base['priority']:.0f} | {base['drive_s'] / 60:.1f} min | {target} |"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/dayplan.md"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        upgrade_to_head(f"sqlite+aiosqlite:///{tmp}/bench.sqlite3")
        asyncio.run(main(args.repeats, args.out, tmp))
