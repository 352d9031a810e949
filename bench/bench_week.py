"""Benchmark of the multi-day planner (routing.week) against the daily baseline.

A synthetic but realistic book on the bundled Liechtenstein extract: accounts on road-network
nodes (so density follows the roads), cadences 7-60 days, last visits spread over up to 1.15
cadences before the start (some overdue), visits of 20/30/45 min, priorities 0-100, 30 % of the
accounts with OSM opening hours (four common patterns, some closed on Mondays or Saturdays-
only afternoons). One rep from Vaduz, 08:00-17:00 with a 30-min lunch.

Measured per book: the week planner's wall time *including* the drive-time matrix (network
load from cache excluded: the server keeps it in memory), and against the daily baseline
(each day on its own, the day planner's 25 highest-scored accounts by the backend's score):
drive time per visit, due visits made and made on time (routing.week.metrics), and the
day-load spread (longest over shortest worked day, hours out). Medians over ``--repeats``.

Usage:
    python bench/bench_week.py [--repeats 3] [--big] [--out bench/results/week.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.cli.plan_cmd import backend_scorer
from bench.machine import cpu_model
from routing.network import RoadNetwork, load_region
from routing.week import (
    Account,
    Point,
    Rep,
    WeekProblem,
    build_matrix,
    plan_daily_baseline,
    plan_week,
)
from routing.week.metrics import coverage

REGION = Path(__file__).resolve().parents[1] / "routing" / "data" / "liechtenstein.osm.pbf"
HOURS = (
    "Mo-Fr 08:00-12:00,13:30-18:00",
    "Mo-Fr 09:00-18:00",
    "Tu-Sa 09:00-12:00,14:00-18:30",
    "Mo,We,Fr 08:00-17:00",
)
START = dt.date(2026, 12, 7)  # a Monday


def book(net: RoadNetwork, n: int, days: int, seed: int) -> WeekProblem:
    """``n`` accounts on random road nodes (see the module docstring)."""
    rng = np.random.default_rng(seed)
    nodes = rng.choice(net.node_count, n, replace=False)
    accounts = []
    for k, i in enumerate(nodes):
        cadence = int(rng.integers(7, 61))
        last = START - dt.timedelta(days=int(rng.integers(1, int(cadence * 1.15) + 1)))
        accounts.append(
            Account(
                id=f"a{k:03d}",
                lat=float(net.node_lat[i]),
                lon=float(net.node_lon[i]),
                visit_min=int(rng.choice([20, 30, 45])),
                cadence_days=cadence,
                last_visit=last,
                priority=round(float(rng.uniform(0, 100)), 1),
                opening_hours=str(rng.choice(HOURS)) if rng.random() < 0.3 else None,
            )
        )
    rep = Rep("rep", Point(47.1410, 9.5209))
    return WeekProblem(rep, tuple(accounts), START, days=days, timezone="Europe/Vaduz")


@dataclass
class Row:
    """One run's figures."""

    seconds: float
    visits: int
    drive_per_visit_s: float
    due: int
    made: int
    on_time: int
    spread: float
    waits: int


def run(net: RoadNetwork, n: int, days: int, seed: int, baseline: bool) -> Row:
    problem = book(net, n, days, seed)
    t0 = time.perf_counter()
    matrix = build_matrix(net, problem)
    plan = (
        plan_daily_baseline(problem, matrix, backend_scorer)
        if baseline
        else plan_week(problem, matrix)
    )
    seconds = time.perf_counter() - t0
    cov = coverage(problem, plan)
    return Row(
        seconds,
        plan.visits,
        plan.drive_s / max(1, plan.visits),
        cov.due,
        cov.made,
        cov.on_time,
        cov.spread,
        len(plan.unscheduled),
    )


def median(rows: list[Row], attr: str) -> float:
    return float(statistics.median(getattr(r, attr) for r in rows))


def table(label: str, week: list[Row], daily: list[Row] | None) -> list[str]:
    lines = [f"### {label}", "", "| | week planner | daily baseline |", "|---|---|---|"]
    for attr, fmt in (
        ("seconds", "{:.2f} s"),
        ("visits", "{:.0f}"),
        ("drive_per_visit_s", "{:.0f} s"),
        ("due", "{:.0f}"),
        ("made", "{:.0f}"),
        ("on_time", "{:.0f}"),
        ("spread", "{:.2f}"),
        ("waits", "{:.0f}"),
    ):
        b = fmt.format(median(daily, attr)) if daily else "-"
        lines.append(f"| {attr} | {fmt.format(median(week, attr))} | {b} |")
    if daily:
        gain = 1 - median(week, "drive_per_visit_s") / median(daily, "drive_per_visit_s")
        lines += ["", f"Drive time per visit: {gain:.0%} less than the daily baseline."]
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="books (seeds) per size")
    parser.add_argument("--big", action="store_true", help="also 400 accounts / 20 days")
    parser.add_argument("--big-baseline", action="store_true", help="baseline for the big book too")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    net = load_region(REGION)
    load = os.getloadavg()
    out = [
        "# Week planner benchmark",
        "",
        f"CPU: {cpu_model()}, {os.cpu_count()} cores; load average at start "
        f"{load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (shared machine).",
        "",
    ]
    seeds = range(1, args.repeats + 1)
    week = [run(net, 150, 5, s, False) for s in seeds]
    daily = [run(net, 150, 5, s, True) for s in seeds]
    out += table(f"150 accounts, 5 working days (median of {len(week)} books)", week, daily)
    for s, (w, d) in enumerate(zip(week, daily, strict=True), start=1):
        out.append(
            f"- book {s}: week {w.seconds:.2f} s, {w.drive_per_visit_s:.0f} s/visit, made "
            f"{w.made}/{w.due} (on time {w.on_time}), spread {w.spread:.2f}; daily "
            f"{d.drive_per_visit_s:.0f} s/visit, made {d.made}/{d.due} (on time {d.on_time}), "
            f"spread {d.spread:.2f}"
        )
    out.append("")
    if args.big:
        big = [run(net, 400, 20, s, False) for s in seeds]
        big_daily = [run(net, 400, 20, s, True) for s in seeds] if args.big_baseline else None
        out += table(f"400 accounts, 20 working days (median of {len(big)} books)", big, big_daily)
    load = os.getloadavg()
    out.append(f"Load average at the end {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}.")
    text = "\n".join(out) + "\n"
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
