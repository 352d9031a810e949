"""``fieldrep bench``: benchmarks of the route solver on standard instances.

``fieldrep bench solomon DIR --time-limit 5 --against pyvrp,vroom`` solves every VRPTW instance
in DIR (Solomon or Gehring-Homberger; VRPLIB ``.vrp`` or the classic ``.txt`` layout) with the
core that plans a rep's day and, in the same run, with each solver named in ``--against``, one
solver at a time per instance so all see the same machine load. Every solver is scored the same
way (:func:`routing.vrp.baselines.score`): its routes, the distance recomputed in floating point
(Euclidean, unrounded), windows, capacity and coverage checked. The gap is to the distance-only
best-known solution beside the instances (``bks.csv``, ``<name>.sol``), or, where none is known,
to the best feasible plan of the run (marked ``run``). ``--routes FILE`` writes every solver's
routes as JSON, so a third party can re-check them.
"""

from __future__ import annotations

import fnmatch
import json
import os
import platform
import re
import statistics
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from routing.vrp import read_best_known, read_solomon
from routing.vrp.baselines import SOLVERS, available

app = typer.Typer(no_args_is_help=True)


def _instances(directory: Path, only: str | None) -> list[Path]:
    """Instance files in ``directory`` (``.vrp``, or ``.txt`` in the classic layout)."""
    found = sorted(directory.glob("*.vrp"))
    found += sorted(
        p for p in directory.glob("*.txt") if "CUSTOMER" in p.read_text(errors="ignore")[:2000]
    )
    if only:
        patterns = [p.strip().upper() for p in only.split(",") if p.strip()]
        found = [p for p in found if any(fnmatch.fnmatch(p.stem.upper(), x) for x in patterns)]
    return sorted(found, key=lambda p: _natural(p.stem))


def _natural(name: str) -> list[Any]:
    """Sort key putting R1_2_2 before R1_2_10."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def family(name: str) -> str:
    """Instance family: C1, C2, R1, R2, RC1 or RC2 (Solomon and Gehring-Homberger names)."""
    m = re.match(r"(RC|R|C)(\d)", name.upper())
    return f"{m.group(1)}{m.group(2)}" if m else name


def _load() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "?"
    return f"{one:.1f}/{five:.1f}"


@app.command("solomon")
def solomon(
    directory: Annotated[Path, typer.Argument(help="Folder with VRPTW instances.")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per instance.")] = 10.0,
    against: Annotated[
        str,
        typer.Option("--against", help="Other solvers, comma-separated: pyvrp, vroom, ortools."),
    ] = "",
    only: Annotated[
        str | None, typer.Option("--only", help="Instance name patterns, e.g. 'R1*,RC2*'.")
    ] = None,
    routes_out: Annotated[
        Path | None, typer.Option("--routes", help="Write every solver's routes (JSON) here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of every solver that takes one.")] = 0,
) -> None:
    """Solve the VRPTW instances in DIRECTORY with fieldrep (and others) and compare.

    Time-limited runs depend on machine speed and load, so figures vary slightly between runs;
    the load average is recorded per instance.
    """
    console = Console(stderr=True)
    solvers = ["fieldrep"] + [s.strip() for s in against.split(",") if s.strip()]
    skipped: dict[str, str] = {}
    for s in solvers[1:]:
        why = available(s)
        if why is not None:
            skipped[s] = why
            console.print(f"[yellow]skipping {why}")
    solvers = [s for s in solvers if s not in skipped]
    paths = _instances(directory, only)
    if not paths:
        console.print(f"[red]no VRPTW instances (.vrp or classic .txt) in {directory}")
        raise typer.Exit(code=1)
    rows: list[dict[str, Any]] = []
    for path in paths:
        inst = read_solomon(path)
        bk = read_best_known(path, inst.name)
        load = _load()
        results = {}
        for s in solvers:
            console.print(f"{inst.name}: {s} ({time_limit:g} s, load {_load()})")
            results[s] = SOLVERS[s](inst, time_limit, seed)
        feasible = [r.distance for r in results.values() if not r.violations]
        ref, ref_kind = bk.distonly_distance, "bks"
        if ref is None and feasible:
            ref, ref_kind = min(feasible), "run"
        rows.append(
            {
                "instance": inst.name,
                "family": family(inst.name),
                "customers": inst.n_customers,
                "reference": ref,
                "reference_kind": ref_kind,
                "bks_distonly_vehicles": bk.distonly_vehicles,
                "load_avg_1m_5m": load,
                "solvers": {
                    s: {
                        "vehicles": r.vehicles,
                        "distance": round(r.distance, 4),
                        "dimacs_cost": r.dimacs,
                        "gap_pct": round(100 * (r.distance / ref - 1), 3)
                        if ref and not r.violations
                        else None,
                        "feasible": not r.violations,
                        "violations": r.violations[:5],
                        "seconds": round(r.seconds, 2),
                        "routes": r.routes,
                    }
                    for s, r in results.items()
                },
            }
        )
        console.print(
            "  "
            + "  ".join(
                f"{s} {r['distance']:.2f} ({r['gap_pct']:+.2f} %)"
                if r["gap_pct"] is not None
                else f"{s} {r['distance']:.2f} ({'infeasible' if not r['feasible'] else '-'})"
                for s, r in rows[-1]["solvers"].items()
            )
        )
        report = _report(rows, solvers, skipped, time_limit)
        if routes_out is not None:  # after every instance: a long run can be read midway
            routes_out.parent.mkdir(parents=True, exist_ok=True)
            routes_out.write_text(json.dumps(report, indent=1))
    summary = report["summary"]
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    _print_tables(rows, solvers, summary, time_limit)


def _report(
    rows: list[dict[str, Any]], solvers: list[str], skipped: dict[str, str], time_limit: float
) -> dict[str, Any]:
    """The whole run as one JSON-ready document (routes included)."""
    return {
        "convention": "euclidean, unrounded; gap to the distance-only best-known (or best of run)",
        "time_limit_s": time_limit,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "skipped": skipped,
        "summary": _summary(rows, solvers),
        "instances": rows,
    }


def _summary(rows: list[dict[str, Any]], solvers: list[str]) -> dict[str, Any]:
    """Mean gap per solver overall and per family, infeasible counts, wins against fieldrep."""
    out: dict[str, Any] = {}
    fams = sorted({r["family"] for r in rows})
    for s in solvers:
        gaps = [r["solvers"][s]["gap_pct"] for r in rows if r["solvers"][s]["gap_pct"] is not None]
        out[s] = {
            "mean_gap_pct": round(statistics.mean(gaps), 3) if gaps else None,
            "infeasible": sum(not r["solvers"][s]["feasible"] for r in rows),
            "by_family": {
                f: round(statistics.mean(g), 3)
                for f in fams
                if (
                    g := [
                        r["solvers"][s]["gap_pct"]
                        for r in rows
                        if r["family"] == f and r["solvers"][s]["gap_pct"] is not None
                    ]
                )
            },
        }
        if s != "fieldrep":
            ours = [r["solvers"]["fieldrep"]["distance"] for r in rows]
            theirs = [r["solvers"][s]["distance"] for r in rows]
            ok = [(r["solvers"]["fieldrep"]["feasible"], r["solvers"][s]["feasible"]) for r in rows]
            out[s]["better_than_fieldrep"] = sum(
                b and (not a or t < o - 1e-6) for o, t, (a, b) in zip(ours, theirs, ok, strict=True)
            )
            out[s]["worse_than_fieldrep"] = sum(
                a and (not b or t > o + 1e-6) for o, t, (a, b) in zip(ours, theirs, ok, strict=True)
            )
    return out


def _print_tables(
    rows: list[dict[str, Any]], solvers: list[str], summary: dict[str, Any], time_limit: float
) -> None:
    table = Table(title=f"VRPTW, {time_limit:g} s each (Euclidean, unrounded)")
    table.add_column("instance")
    table.add_column("reference", justify="right")
    for s in solvers:
        table.add_column(f"{s} veh", justify="right")
        table.add_column(f"{s} dist", justify="right")
        table.add_column(f"{s} gap %", justify="right")
    for r in rows:
        cells = [
            r["instance"],
            f"{r['reference']:.2f} ({r['reference_kind']})" if r["reference"] else "-",
        ]
        for s in solvers:
            x = r["solvers"][s]
            cells += [
                str(x["vehicles"]),
                f"{x['distance']:.2f}",
                f"{x['gap_pct']:+.2f}" if x["gap_pct"] is not None else "infeasible",
            ]
        table.add_row(*cells)
    console = Console()
    console.print(table)
    for s in solvers:
        x = summary[s]
        fams = ", ".join(f"{f} {g:+.2f}" for f, g in x["by_family"].items())
        extra = (
            f"; better than fieldrep on {x['better_than_fieldrep']}, worse on "
            f"{x['worse_than_fieldrep']}"
            if s != "fieldrep"
            else ""
        )
        mean = f"{x['mean_gap_pct']:+.2f} %" if x["mean_gap_pct"] is not None else "-"
        console.print(f"{s}: mean gap {mean} ({fams}); infeasible {x['infeasible']}{extra}")


__all__ = ["app", "family"]
