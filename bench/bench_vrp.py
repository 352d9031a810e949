"""Benchmark of the route solver core (routing.vrp) on one-rep days.

Solomon and Gehring-Homberger instances run through ``fieldrep bench solomon DIR --against
pyvrp,vroom,ortools`` (backend/cli/bench_cmd.py), which scores every solver the same way and
writes their routes. This script measures the day planner's side: one rep, shift 08:00-17:00,
30-min lunch starting 11:30-14:00, three appointments, optional stops with prizes (priority x
1,800 s), two opening windows on 40 % of them, a precomputed matrix.

For each day it finds the best plan any solver reaches in ``--reference`` seconds (PyVRP and
the OR-Tools engine, time-limited), then times the default (work-limited, deterministic)
solve of the new core and of the OR-Tools core before it, and the smallest PyVRP iteration
budget that comes within 0.5 % of that best plan. Objective = drive seconds + prizes of the
stops left out (what both engines minimise).

Usage:
    python bench/bench_vrp.py [--sizes 25,50,100] [--seeds 1,2,3] [--reference 60]
        [--out bench/results/vrp_day.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from routing.vrp import Break, DayProblem, SolveParams, Stop, TimeWindow, Vehicle, solve


def day_problem(n: int, seed: int) -> DayProblem:
    """A realistic rep day: n candidates around a home base in a 40 x 40 km area."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, 40_000, size=(n + 1, 2))
    xy[0] = (20_000, 20_000)
    xy[1:4] = rng.uniform(12_000, 28_000, size=(3, 2))  # appointments within reach of home
    straight = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    metres = straight * 1.3
    seconds = np.ceil(metres / (45_000 / 3600) + np.where(metres > 0, 120, 0))
    stops = []
    for i in range(1, n + 1):
        kind = rng.random()
        if i <= 3:  # appointments
            t = (9 * 3600, 14 * 3600, 15 * 3600 + 1800)[i - 1]
            stops.append(Stop(f"appt{i}", i, 2700, [TimeWindow(t, t + 3600)], required=True))
            continue
        windows = None
        if kind < 0.4:
            windows = [TimeWindow(8 * 3600, 12 * 3600), TimeWindow(13 * 3600 + 1800, 18 * 3600)]
        elif kind < 0.55:
            windows = [TimeWindow(9 * 3600, 17 * 3600)]
        priority = int(rng.integers(1, 6))
        stops.append(
            Stop(
                f"acct{i}", i, int(rng.choice([1200, 1800, 2700])), windows, penalty=priority * 1800
            )
        )
    rep = Vehicle(
        "rep", 0, 0, 8 * 3600, 17 * 3600, breaks=[Break(11 * 3600 + 1800, 14 * 3600, 1800)]
    )
    return DayProblem(seconds=seconds, metres=metres, vehicles=[rep], stops=stops)


def machine() -> str:
    """One line describing the machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} logical cores (shared with other jobs), "
        f"Python {platform.python_version()}, {platform.system()}"
    )


def timed(problem: DayProblem, params: SolveParams) -> tuple[float, int, str]:
    """Wall time, objective and engine of one solve."""
    t0 = time.perf_counter()
    sol = solve(problem, params)
    return time.perf_counter() - t0, sol.objective, sol.engine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="25,50,100")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--reference", type=float, default=60.0)
    ap.add_argument("--out", default="bench/results/vrp_day.md")
    args = ap.parse_args()
    rows = []
    load0 = os.getloadavg()
    for n in (int(x) for x in args.sizes.split(",")):
        for seed in (int(x) for x in args.seeds.split(",")):
            p = day_problem(n, seed)
            ref_pyvrp = timed(p, SolveParams(solution_limit=None, time_limit_s=args.reference))
            ref_ort = timed(
                p,
                SolveParams(solution_limit=None, time_limit_s=args.reference, engine="ortools"),
            )
            new = timed(p, SolveParams())
            same = solve(p, SolveParams()) == solve(p, SolveParams())
            old = timed(p, SolveParams(engine="ortools"))
            best = min(ref_pyvrp[1], ref_ort[1], new[1], old[1])
            reach = None
            for it in (250, 500, 1000, 2000, 4000, 8000):
                t, obj, _ = timed(p, SolveParams(iterations=it))
                if obj <= best * 1.005:
                    reach = (it, t)
                    break
            rows.append((n, seed, best, ref_pyvrp, ref_ort, new, same, old, reach))
            print(n, seed, best, ref_pyvrp[1], ref_ort[1], new, same, old, reach, flush=True)
    load1 = os.getloadavg()

    def gap(x: int, best: int) -> str:
        return f"{100 * (x / best - 1):+.2f} %"

    lines = [
        "## Day plans: one rep, 25 / 50 / 100 candidates (issue 15)",
        "",
        f"- Machine: {machine()}; load average (1/5/15 min) {load0[0]:.1f}/{load0[1]:.1f}/"
        f"{load0[2]:.1f} at start, {load1[0]:.1f}/{load1[1]:.1f}/{load1[2]:.1f} at the end",
        f"- Command: `python bench/bench_vrp.py --sizes {args.sizes} --seeds {args.seeds} "
        f"--reference {args.reference:g}`",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M')}",
        "- Best = the lowest objective (drive s + prizes left out) of any run below, including",
        f"  PyVRP and the OR-Tools engine each time-limited to {args.reference:g} s.",
        "- New default = `SolveParams()` (PyVRP, work-limited: deterministic); before = the",
        "  OR-Tools core's default (`SolveParams(engine='ortools')`, what `solve` ran before).",
        "- Reach 0.5 % = the smallest PyVRP iteration budget (250, 500, ... 8,000) within 0.5 %",
        "  of best, and its time.",
        "",
        "| candidates | seed | best | PyVRP ref | OR-Tools ref | new default: time | gap |"
        " identical twice | before: time | gap | reach 0.5 %: iterations | time |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, seed, best, rp, ro, new, same, old, reach in rows:
        lines.append(
            f"| {n} | {seed} | {best} | {gap(rp[1], best)} | {gap(ro[1], best)} | "
            f"{new[0]:.2f} s | {gap(new[1], best)} | {same} | {old[0]:.2f} s | "
            f"{gap(old[1], best)} | {reach[0] if reach else '> 8000'} | "
            f"{f'{reach[1]:.2f} s' if reach else '-'} |"
        )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
