"""``fieldrep territories``: design and realign territories from CSV files.

Thin shell over :mod:`routing.territories`: read CSVs, pick the travel-time oracle, show
progress on stderr, write the plan as CSV and, with ``--json``, the KPIs on stdout.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from routing.territories import (
    Assignment,
    DesignParams,
    InfeasibleBalanceError,
    RealignParams,
    RoadNetworkOracle,
    StraightLineOracle,
    TerritoryAccount,
    TerritoryError,
    TerritoryRep,
    TravelTimeOracle,
    design_territories,
    realign_territories,
    territory_polygons,
)

app = typer.Typer(no_args_is_help=True)
_err = Console(stderr=True)

EXIT_BAD_INPUT = 2
EXIT_INFEASIBLE = 3

RegionArg = Annotated[
    Path,
    typer.Argument(help="OSM extract (.osm.pbf) for road times; ignored with --straight-line."),
]
AccountsArg = Annotated[
    Path,
    typer.Argument(
        exists=True, dir_okay=False, help="CSV: id,lat,lon,workload_hours,potential[,locked_rep]"
    ),
]
RepsArg = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, help="CSV: id,lat,lon[,locked]")
]
OutOpt = Annotated[Path, typer.Option("--out", help="Where to write account_id,rep_id.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the KPIs as JSON on stdout.")]
StraightOpt = Annotated[
    bool, typer.Option("--straight-line", help="Haversine x detour at 50 km/h; no road network.")
]
TolOpt = Annotated[float, typer.Option("--tolerance", min=0.0, max=1.0, help="Workload ± share.")]
PotTolOpt = Annotated[
    float, typer.Option("--potential-tolerance", min=0.0, max=1.0, help="Potential ± share.")
]
CacheOpt = Annotated[
    Path | None, typer.Option("--cache-dir", help="Cache for the compiled road network.")
]


def _float(row: dict[str, str], key: str, default: float | None = None) -> float | None:
    raw = (row.get(key) or "").strip()
    if not raw:
        return default
    return float(raw)


def read_accounts(path: Path) -> list[TerritoryAccount]:
    """Read ``id,lat,lon,workload_hours,potential[,locked_rep][,move_cost]``."""
    out: list[TerritoryAccount] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            try:
                out.append(
                    TerritoryAccount(
                        id=row["id"].strip(),
                        lat=float(row["lat"]),
                        lon=float(row["lon"]),
                        workload_hours=float(row["workload_hours"]),
                        potential=_float(row, "potential", 0.0) or 0.0,
                        locked_rep=(row.get("locked_rep") or "").strip() or None,
                        move_cost=_float(row, "move_cost", 1.0) or 0.0,
                    )
                )
            except (KeyError, ValueError) as exc:
                raise typer.BadParameter(f"{path}:{n}: {exc}") from exc
    return out


def read_reps(path: Path) -> list[TerritoryRep]:
    """Read ``id,lat,lon[,locked]`` (an empty lat/lon is a rep without home)."""
    out: list[TerritoryRep] = []
    with path.open(newline="", encoding="utf-8") as fh:
        for n, row in enumerate(csv.DictReader(fh), start=2):
            try:
                locked = (row.get("locked") or "").strip().lower() in {"1", "true", "yes"}
                out.append(
                    TerritoryRep(row["id"].strip(), _float(row, "lat"), _float(row, "lon"), locked)
                )
            except (KeyError, ValueError) as exc:
                raise typer.BadParameter(f"{path}:{n}: {exc}") from exc
    return out


def read_plan(path: Path) -> dict[str, str]:
    """Read ``account_id,rep_id``."""
    with path.open(newline="", encoding="utf-8") as fh:
        return {r["account_id"].strip(): r["rep_id"].strip() for r in csv.DictReader(fh)}


def write_plan(path: Path, rep_of: dict[str, str]) -> None:
    """Write ``account_id,rep_id`` rows in account order."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        wr = csv.writer(fh)
        wr.writerow(["account_id", "rep_id"])
        wr.writerows(rep_of.items())


def _oracle(region: Path, straight: bool, cache_dir: Path | None) -> TravelTimeOracle:
    if straight:
        return StraightLineOracle()
    if not region.exists():
        raise typer.BadParameter(f"region {region} not found (or pass --straight-line)")
    try:
        return RoadNetworkOracle.from_region(region, cache_dir)
    except (ImportError, AttributeError) as exc:
        raise typer.BadParameter(
            f"road network unavailable ({exc}); pass --straight-line to use straight lines"
        ) from exc


def _report(plan: Assignment, accounts: list[TerritoryAccount]) -> dict[str, Any]:
    polys = territory_polygons(accounts, plan.rep_of)
    return {
        "kpis": asdict(plan.kpis) if plan.kpis is not None else None,
        "moved": plan.moved,
        "potential_ok": plan.potential_ok,
        "notes": plan.notes,
        "centres": {r: list(c) for r, c in plan.centres.items()},
        "polygons": {r: p.wkt for r, p in polys.items()},
    }


def _run(job: str, call: Any, out: Path, as_json: bool, accounts: list[TerritoryAccount]) -> None:
    with Progress(
        TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=_err
    ) as bar:
        task = bar.add_task(job, total=1.0)

        def progress(stage: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=f"{job}: {stage}")

        try:
            plan: Assignment = call(progress)
        except InfeasibleBalanceError as exc:
            closest = out.with_suffix(".closest.csv")
            write_plan(closest, exc.closest_plan.rep_of)
            _err.print(f"[red]infeasible:[/red] {exc}; closest plan written to {closest}")
            if as_json:
                rep = _report(exc.closest_plan, accounts)
                rep["error"] = {
                    "type": "InfeasibleBalanceError",
                    "territory": exc.territory,
                    "deviation": exc.deviation,
                    "message": str(exc),
                }
                sys.stdout.write(json.dumps(rep, indent=2) + "\n")
            raise typer.Exit(EXIT_INFEASIBLE) from exc
        except TerritoryError as exc:
            _err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from exc
    write_plan(out, plan.rep_of)
    k = plan.kpis
    if k is not None:
        _err.print(
            f"{len(plan.rep_of)} accounts -> {out}; "
            f"workload max dev {k.workload_max_deviation:.1%}, "
            f"potential {k.potential_max_deviation:.1%}, "
            f"dispersion {k.dispersion_seconds / 60:.1f} min, moved {k.accounts_moved}"
        )
    if as_json:
        sys.stdout.write(json.dumps(_report(plan, accounts), indent=2) + "\n")


@app.command()
def design(
    region: RegionArg,
    accounts_csv: AccountsArg,
    reps_csv: RepsArg,
    out: OutOpt,
    tolerance: TolOpt = 0.05,
    potential_tolerance: PotTolOpt = 0.10,
    seed: Annotated[int, typer.Option(help="Tie-break seed.")] = 0,
    straight_line: StraightOpt = False,
    cache_dir: CacheOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Design balanced, compact territories from scratch."""
    accounts, reps = read_accounts(accounts_csv), read_reps(reps_csv)
    oracle = _oracle(region, straight_line, cache_dir)
    params = DesignParams(tolerance=tolerance, potential_tolerance=potential_tolerance, seed=seed)
    _run(
        "design",
        lambda pr: design_territories(accounts, reps, oracle, params, progress=pr),
        out,
        as_json,
        accounts,
    )


@app.command()
def realign(
    region: RegionArg,
    accounts_csv: AccountsArg,
    reps_csv: RepsArg,
    current_csv: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Active plan: account_id,rep_id")
    ],
    out: OutOpt,
    max_moved: Annotated[
        float, typer.Option("--max-moved", min=0.0, max=1.0, help="Most accounts moved (share).")
    ] = 0.10,
    max_moved_per_rep: Annotated[
        int | None, typer.Option("--max-moved-per-rep", min=0, help="Most gained+lost per rep.")
    ] = None,
    tolerance: TolOpt = 0.05,
    potential_tolerance: PotTolOpt = 0.10,
    straight_line: StraightOpt = False,
    cache_dir: CacheOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Rebalance the active plan after events, moving as few accounts as possible."""
    accounts, reps = read_accounts(accounts_csv), read_reps(reps_csv)
    current = read_plan(current_csv)
    oracle = _oracle(region, straight_line, cache_dir)
    params = RealignParams(
        tolerance=tolerance,
        potential_tolerance=potential_tolerance,
        max_moved_share=max_moved,
        max_moved_per_rep=max_moved_per_rep,
    )
    _run(
        "realign",
        lambda pr: realign_territories(accounts, reps, current, oracle, params, progress=pr),
        out,
        as_json,
        accounts,
    )
