"""``fieldrep bench``: benchmarks of the route solver on standard instances.

``fieldrep bench solomon DIR --time-limit 10`` solves every Solomon VRPTW instance in DIR
(VRPLIB ``.vrp`` or the classic Solomon ``.txt`` layout) with the same core that plans a rep's
day, and compares with the best-known solutions beside the instances (``<name>.sol``,
``bks.csv``). Distances are Euclidean and unrounded, recomputed in floating point from the final
routes; the gap is to the distance-only best-known solution, since the objective is distance.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from routing.vrp import read_best_known, read_solomon, route_set_distance, solve_solomon

app = typer.Typer(no_args_is_help=True)


def _instances(directory: Path) -> list[Path]:
    """Instance files in ``directory`` (``.vrp``, or ``.txt`` in the classic layout)."""
    found = sorted(directory.glob("*.vrp"))
    found += sorted(
        p for p in directory.glob("*.txt") if "CUSTOMER" in p.read_text(errors="ignore")[:2000]
    )
    return found


@app.command("solomon")
def solomon(
    directory: Annotated[Path, typer.Argument(help="Folder with Solomon instances.")],
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds per instance.")] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    seed: Annotated[int, typer.Option(help="Seed of the ruin-and-recreate layer.")] = 0,
) -> None:
    """Solve every Solomon VRPTW instance in DIRECTORY and compare with best-known solutions.

    Time-limited runs depend on machine speed and load, so figures vary slightly between runs.
    """
    console = Console(stderr=True)
    paths = _instances(directory)
    if not paths:
        console.print(f"[red]no Solomon instances (.vrp or classic .txt) in {directory}")
        raise typer.Exit(code=1)
    rows: list[dict[str, Any]] = []
    with Progress(console=console, transient=as_json) as progress:
        task = progress.add_task("solving", total=len(paths))
        for path in paths:
            inst = read_solomon(path)
            progress.update(task, description=f"{inst.name} ({time_limit:g} s)")
            res = solve_solomon(inst, time_limit, seed=seed)
            bk = read_best_known(path, inst.name)
            ref = bk.distonly_distance
            sol_float = route_set_distance(inst, bk.sol_routes) if bk.sol_routes else None
            rows.append(
                {
                    "instance": inst.name,
                    "vehicles": res.vehicles,
                    "distance": round(res.distance, 2),
                    "dimacs_cost": res.dimacs,
                    "feasible": not res.violations,
                    "violations": res.violations,
                    "bks_distonly": ref,
                    "bks_distonly_vehicles": bk.distonly_vehicles,
                    "bks_hier": bk.hier_distance,
                    "bks_hier_vehicles": bk.hier_vehicles,
                    "sol_file_cost": bk.sol_cost,
                    "sol_file_unrounded": round(sol_float, 2) if sol_float else None,
                    "gap_pct": round(100 * (res.distance / ref - 1), 2) if ref else None,
                    "seconds": round(res.seconds, 2),
                }
            )
            progress.advance(task)
    gaps = [r["gap_pct"] for r in rows if r["gap_pct"] is not None]
    mean_gap = round(statistics.mean(gaps), 2) if gaps else None
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "convention": "euclidean, unrounded",
                    "time_limit_s": time_limit,
                    "instances": rows,
                    "mean_gap_pct": mean_gap,
                },
                indent=2,
            )
        )
        return
    table = Table(title=f"Solomon VRPTW, {time_limit:g} s each (Euclidean, unrounded)")
    for col in (
        "instance",
        "veh",
        "distance",
        "BKS dist-only (veh)",
        "gap %",
        "BKS hierarchical (veh)",
        ".sol cost",
        "feasible",
    ):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            r["instance"],
            str(r["vehicles"]),
            f"{r['distance']:.2f}",
            f"{r['bks_distonly']} ({r['bks_distonly_vehicles']})" if r["bks_distonly"] else "-",
            f"{r['gap_pct']:+.2f}" if r["gap_pct"] is not None else "-",
            f"{r['bks_hier']} ({r['bks_hier_vehicles']})" if r["bks_hier"] else "-",
            f"{r['sol_file_cost']}" if r["sol_file_cost"] is not None else "-",
            "yes" if r["feasible"] else "NO",
        )
    Console().print(table)
    if mean_gap is not None:
        Console().print(f"mean gap to distance-only best-known: {mean_gap:+.2f} %")


__all__ = ["app"]
