"""``fieldrep routing``: build a region's road network and compute drive-time matrices.

Thin shell over :mod:`routing.network`: progress and messages on stderr, results on stdout
(a table, or JSON with ``--json``), exit code 2 for bad input with a message naming the file,
line or point that is wrong.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from routing.network import (
    RoadNetwork,
    RoutingError,
    SpeedProfile,
    load_place,
    load_region,
)

app = typer.Typer(no_args_is_help=True)
_err = Console(stderr=True)
_out = Console()

EXIT_BAD_INPUT = 2

RegionArg = Annotated[Path, typer.Argument(help="OSM extract: .osm.pbf, .osm or .osm.bz2.")]
CacheOpt = Annotated[
    Path | None,
    typer.Option("--cache-dir", help="Compiled-network cache (default: the server's cache dir)."),
]
SpeedsOpt = Annotated[
    Path | None,
    typer.Option("--speeds", exists=True, dir_okay=False, help="Speed profile TOML (km/h)."),
]


def _cache_dir(option: Path | None) -> Path:
    """The server's cache directory, so a CLI build warms the cache the API reads."""
    if option is not None:
        return option
    from backend.settings import Settings

    return Settings().effective_routing_cache_dir


def _speeds(option: Path | None) -> SpeedProfile | None:
    if option is None:
        return None
    try:
        return SpeedProfile.from_toml(option)
    except (ValueError, OSError) as exc:
        _err.print(f"[red]error:[/] speed profile {option}: {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from exc


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=_err,
        transient=True,
    )


def _load(region: Path, cache_dir: Path | None, speeds: Path | None) -> RoadNetwork:
    profile = _speeds(speeds)
    with _progress() as bar:
        task = bar.add_task(f"loading {region.name}", total=1.0)

        def step(stage: str, fraction: float) -> None:
            bar.update(task, description=stage, completed=fraction)

        try:
            return load_region(
                region, cache_dir=_cache_dir(cache_dir), speeds=profile, progress=step
            )
        except RoutingError as exc:
            _err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from exc


def _describe(net: RoadNetwork, seconds: float) -> str:
    lat0, lon0, lat1, lon1 = net.bounds
    origin = "loaded from cache" if net.from_cache else "built"
    return (
        f"[green]{net.region_name}[/]: {origin} in {seconds:.2f} s; {net.node_count} "
        f"intersections, {net.edge_count} road edges; bounds ({lat0:.4f}, {lon0:.4f}) - "
        f"({lat1:.4f}, {lon1:.4f}); hash {net.content_hash[:12]}; speeds "
        f"{net.speed_profile_version}. Map data © OpenStreetMap contributors (ODbL)"
    )


@app.command()
def build(region: RegionArg, cache_dir: CacheOpt = None, speeds: SpeedsOpt = None) -> None:
    """Build (or load from cache) the drivable road network of REGION."""
    import time

    started = time.perf_counter()
    net = _load(region, cache_dir, speeds)
    _err.print(_describe(net, time.perf_counter() - started))


@app.command()
def place(
    query: Annotated[str, typer.Argument(help='A place name, e.g. "Vaduz, Liechtenstein".')],
    cache_dir: CacheOpt = None,
    speeds: SpeedsOpt = None,
    refresh: Annotated[bool, typer.Option(help="Download again even if cached.")] = False,
) -> None:
    """Download a place's road network through OSMnx (needs the internet) and cache it."""
    import time

    profile = _speeds(speeds)
    started = time.perf_counter()
    with _progress() as bar:
        task = bar.add_task(f"loading {query}", total=1.0)
        try:
            net = load_place(
                query,
                cache_dir=_cache_dir(cache_dir),
                speeds=profile,
                progress=lambda stage, f: bar.update(task, description=stage, completed=f),
                refresh=refresh,
            )
        except RoutingError as exc:
            _err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(EXIT_BAD_INPUT) from exc
    _err.print(_describe(net, time.perf_counter() - started))


def read_points(path: Path) -> tuple[list[str], list[tuple[float, float]]]:
    """Read ``id,lat,lon`` rows; raise ``ValueError`` naming the line that is wrong."""
    ids: list[str] = []
    points: list[tuple[float, float]] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        columns = {c.strip().lower() for c in reader.fieldnames or []}
        missing = {"id", "lat", "lon"} - columns
        if missing:
            msg = f"{path}: missing column(s) {', '.join(sorted(missing))} (need id,lat,lon)"
            raise ValueError(msg)
        for row in reader:
            clean = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            line = reader.line_num
            if not clean["id"]:
                msg = f"{path}, line {line}: empty id"
                raise ValueError(msg)
            try:
                lat, lon = float(clean["lat"]), float(clean["lon"])
            except ValueError:
                msg = (
                    f"{path}, line {line} (id {clean['id']!r}): lat/lon must be numbers, "
                    f"got {clean['lat']!r}, {clean['lon']!r}"
                )
                raise ValueError(msg) from None
            ids.append(clean["id"])
            points.append((lat, lon))
    if not ids:
        msg = f"{path}: no points"
        raise ValueError(msg)
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        msg = f"{path}: duplicate id(s) {', '.join(duplicates[:5])}"
        raise ValueError(msg)
    return ids, points


def _finite(value: float, digits: int) -> float | None:
    return round(value, digits) if math.isfinite(value) else None


@app.command()
def matrix(
    region: RegionArg,
    points_csv: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV with columns id,lat,lon.")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")] = False,
    max_distance: Annotated[
        float, typer.Option("--max-distance", min=0.0, help="Max metres from a point to a road.")
    ] = 500.0,
    cache_dir: CacheOpt = None,
    speeds: SpeedsOpt = None,
) -> None:
    """Drive seconds and metres between every pair of points (row = from, column = to).

    JSON: ``{"region", "ids", "seconds", "metres", "snap"}``; unreachable pairs are ``null``.
    """
    try:
        ids, points = read_points(points_csv)
    except ValueError as exc:
        _err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    net = _load(region, cache_dir, speeds)
    try:
        snaps = net.snap_many(points, labels=ids, max_distance_m=max_distance)
    except RoutingError as exc:
        _err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(EXIT_BAD_INPUT) from exc
    result = net.travel_matrix(snaps, snaps)
    if as_json:
        payload: dict[str, Any] = {
            "region": net.region_name,
            "ids": ids,
            "seconds": [[_finite(v, 1) for v in row] for row in result.seconds.tolist()],
            "metres": [[_finite(v, 1) for v in row] for row in result.metres.tolist()],
            "snap": [
                {
                    "id": pid,
                    "offset_m": round(s.offset_m, 1),
                    "snapped_lat": round(s.snapped_lat, 7),
                    "snapped_lon": round(s.snapped_lon, 7),
                }
                for pid, s in zip(ids, snaps, strict=True)
            ],
        }
        typer.echo(json.dumps(payload, ensure_ascii=False))
        return
    table = Table(title=f"Drive minutes on {net.region_name} (row = from)")
    table.add_column("from \\ to")
    for pid in ids:
        table.add_column(pid, justify="right")
    for pid, row in zip(ids, result.seconds.tolist(), strict=True):
        table.add_row(pid, *(f"{v / 60:.1f}" if math.isfinite(v) else "-" for v in row))
    _out.print(table)
    offsets = ", ".join(f"{pid} {s.offset_m:.0f} m" for pid, s in zip(ids, snaps, strict=True))
    _err.print(f"walking offsets to the road: {offsets}")
