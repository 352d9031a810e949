"""Render ``fieldrep bench solomon --routes FILE`` runs (and the day-plan table) as markdown.

The JSON files hold every solver's routes, so the figures here can be re-checked: recompute
each route set's Euclidean length and windows with ``routing.vrp.check_routes``.

Usage:
    python bench/vrp_report.py --run "Solomon 100, 5 s=solomon.json" \\
        --run "Gehring-Homberger 200, 10 s=gh200.json" [--day vrp_day.md] \\
        [--out bench/results/vrp.md]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def _fmt_gap(x: float | None) -> str:
    return f"{x:+.2f} %" if x is not None else "-"


def render_run(title: str, report: dict[str, Any]) -> list[str]:
    """One run: how it was made, the per-solver summary, then every instance."""
    rows = report["instances"]
    solvers = list(rows[0]["solvers"]) if rows else []
    loads = [r["load_avg_1m_5m"] for r in rows]
    fams = sorted({r["family"] for r in rows})
    lines = [
        f"## {title}",
        "",
        f"- {len(rows)} instances, {report['time_limit_s']:g} s per instance per solver, "
        f"solvers run one after the other on each instance (same load); {report['machine']}; "
        f"load average (1/5 min) per instance from {loads[0]} to {loads[-1]}"
        + (f", skipped: {report['skipped']}" if report["skipped"] else ""),
        f"- Convention: {report['convention']}. Every solver gets the same integer matrices "
        "(distances x1000, times rounded up) and fleet; its routes are re-scored in floating "
        "point and checked (windows, capacity, coverage). Routes: the JSON file of the run.",
        "- Solvers: fieldrep = `routing.vrp.solve` (the day planner's core); pyvrp = PyVRP "
        "0.14.1 alone with its defaults; vroom = pyvroom, exploration 5, 2 threads; ortools = "
        "fieldrep's OR-Tools engine (the core before this change).",
        "",
        "| solver | mean gap | "
        + " | ".join(fams)
        + " | infeasible | better / worse than fieldrep |",
        "|---|---|" + "---|" * len(fams) + "---|---|",
    ]
    for s in solvers:
        x = report["summary"][s]
        vs = f"{x['better_than_fieldrep']} / {x['worse_than_fieldrep']}" if s != "fieldrep" else "-"
        lines.append(
            f"| {s} | {_fmt_gap(x['mean_gap_pct'])} | "
            + " | ".join(_fmt_gap(x["by_family"].get(f)) for f in fams)
            + f" | {x['infeasible']} | {vs} |"
        )
    lines += [
        "",
        "| instance | reference | load | "
        + " | ".join(f"{s} veh / dist / gap" for s in solvers)
        + " |",
        "|---|---|---|" + "---|" * len(solvers),
    ]
    for r in rows:
        ref = f"{r['reference']:.2f} ({r['reference_kind']})" if r["reference"] else "-"
        cells = []
        for s in solvers:
            x = r["solvers"][s]
            gap = _fmt_gap(x["gap_pct"]) if x["feasible"] else "infeasible"
            cells.append(f"{x['vehicles']} / {x['distance']:.2f} / {gap}")
        lines.append(
            f"| {r['instance']} | {ref} | {r['load_avg_1m_5m']} | " + " | ".join(cells) + " |"
        )
    return [*lines, ""]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", action="append", default=[], help="'title=path.json'")
    ap.add_argument("--day", type=Path, help="day-plan table written by bench_vrp.py")
    ap.add_argument("--intro", type=Path, help="markdown placed before the tables")
    ap.add_argument("--out", type=Path, default=Path("bench/results/vrp.md"))
    args = ap.parse_args()
    lines = ["# routing.vrp benchmark (issue 15: PyVRP behind the day planner's model)", ""]
    if args.intro:
        lines += [args.intro.read_text().rstrip(), ""]
    for spec in args.run:
        title, path = spec.split("=", 1)
        lines += render_run(title, json.loads(Path(path).read_text()))
    if args.day:
        lines += [args.day.read_text().rstrip(), ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
