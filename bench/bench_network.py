"""Benchmark of the road-network engine (routing.network) on the bundled extracts.

Measures, per bundled region, the first build (fresh cache, node table included) and the
cached load, then 100x100 and 1000x1000 travel matrices on the largest region (node table,
and the per-source search for comparison) against a plain NetworkX Dijkstra baseline on the
same graph in the same run. Prints a report and writes
``bench/results/network.md``.

Run: ``python bench/bench_network.py`` (from the repository root, in the venv).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import networkx as nx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.machine import cpu_model  # noqa: E402
from routing.network import RoadNetwork, Snap, load_region  # noqa: E402

DATA = ROOT / "routing" / "data"
REGIONS = {"liechtenstein": DATA / "liechtenstein.osm.pbf", "monaco": DATA / "monaco.osm.pbf"}
OUT = ROOT / "bench" / "results" / "network.md"


def _median(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _cold_process(code: str) -> float:
    """Seconds reported by a fresh interpreter (imports included)."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return float(out.stdout.strip().splitlines()[-1])


def _table_mb(net: RoadNetwork) -> float:
    return 8 * net.node_count**2 / 1e6


def _points(net: RoadNetwork, count: int, seed: int) -> list[Snap]:
    """Random points scattered up to ~150 m around random intersections, snapped."""
    rng = np.random.default_rng(seed)
    nodes = rng.integers(0, net.node_count, count)
    points = [
        (
            float(net.node_lat[i] + rng.normal(0, 0.001)),
            float(net.node_lon[i] + rng.normal(0, 0.001)),
        )
        for i in nodes
    ]
    return net.snap_many(points, max_distance_m=5_000)


def _baseline_graph(net: RoadNetwork) -> nx.DiGraph:
    g = net.compiled
    graph = nx.DiGraph()
    for e in range(net.edge_count):
        u, v, s = int(g.edge_src[e]), int(g.edge_dst[e]), float(g.edge_seconds[e])
        if u != v and (not graph.has_edge(u, v) or graph[u][v]["weight"] > s):
            graph.add_edge(u, v, weight=s)
    return graph


def _baseline(
    net: RoadNetwork, graph: nx.DiGraph, sources: list[Snap], targets: list[Snap]
) -> None:
    """Plain NetworkX: one Dijkstra per source from its edge's head, targets by their tail."""
    g = net.compiled
    tails = [int(g.edge_src[t.edge]) for t in targets]
    for s in sources:
        dist = nx.single_source_dijkstra_path_length(graph, int(g.edge_dst[s.edge]))
        _ = [dist.get(t, float("inf")) for t in tails]


def main() -> None:
    """Run every measurement and write the report."""
    lines: list[str] = []
    say = lines.append
    cpus = os.cpu_count() or 0
    nproc = subprocess.run(["nproc"], check=False, capture_output=True, text=True).stdout.strip()
    say("# Road network benchmark (`routing.network`)\n")
    say(f"- date: {time.strftime('%Y-%m-%d %H:%M')}")
    say(f"- machine: {nproc or cpus} cores (`nproc`), {cpu_model()}; shared with other agents,")
    say("  so numbers are noisy (medians over repeats)")
    say(f"- python {platform.python_version()}, numpy {np.__version__}, networkx {nx.__version__}")
    say("- command: `python bench/bench_network.py` (repository root, venv active)")
    say(f"- load average at start: {os.getloadavg()[0]:.1f} (1 min)\n")

    say("## Build and cache load per bundled region\n")
    say(
        "| region | nodes | edges | first build incl. node table, in process (median of 3) "
        "| first build, "
        "fresh interpreter | cache load, in process (median of 20) | cache load, fresh "
        "interpreter incl. imports |"
    )
    say("|---|---:|---:|---:|---:|---:|---:|")
    nets: dict[str, RoadNetwork] = {}
    for name, path in REGIONS.items():
        builds = []
        for _ in range(3):
            with tempfile.TemporaryDirectory() as tmp:
                started = time.perf_counter()
                net = load_region(path, cache_dir=Path(tmp))
                builds.append(time.perf_counter() - started)
        cache = Path(tempfile.mkdtemp(prefix="bench-net-"))
        code_build = (
            "import time; t=time.perf_counter(); from pathlib import Path; "
            "from routing.network import load_region; "
            f"load_region(Path({str(path)!r}), cache_dir=Path({str(cache / 'cold')!r})); "
            "print(time.perf_counter()-t)"
        )
        cold_build = _cold_process(code_build)
        load_region(path, cache_dir=cache)
        warm = _median(lambda p=path, c=cache: load_region(p, cache_dir=c), 20)
        code_load = (
            "import time; t=time.perf_counter(); from pathlib import Path; "
            "from routing.network import load_region; "
            f"load_region(Path({str(path)!r}), cache_dir=Path({str(cache)!r})); "
            "print(time.perf_counter()-t)"
        )
        cold_load = statistics.median(_cold_process(code_load) for _ in range(5))
        nets[name] = load_region(path, cache_dir=cache)
        say(
            f"| {name} | {net.node_count} | {net.edge_count} | {statistics.median(builds):.2f} s "
            f"| {cold_build:.2f} s | {warm * 1000:.1f} ms | {cold_load * 1000:.0f} ms |"
        )
        print(lines[-1], flush=True)

    largest = max(nets.values(), key=lambda n: n.node_count)
    searched = RoadNetwork(largest.compiled, region_name=largest.region_name, table_max_nodes=0)
    say(
        f"\n## Matrices on {largest.region_name} ({largest.node_count} nodes), "
        "vs NetworkX in the same run\n"
    )
    say(
        f"Engine: all-pairs node table ({largest.node_count}² packed float64 weights, "
        f"{_table_mb(largest):.0f} MB, computed with the build and memory-mapped from the cache), "
        "then per source the minimum over its departures of partial edge + table row, read at "
        "the targets' arrival nodes plus their partial edges; seconds and metres of the "
        "fastest route, bit-identical to the per-source search. *first call* = a fresh "
        "`load_region` from the cache, then the first matrix (opens the table file); "
        "*cold* = row cache cleared before each repeat (the table needs none); *warm* = same "
        "points again. *search* = the per-source SciPy Dijkstra that larger regions use "
        "(`table_max_nodes=0`), row cache cleared."
    )
    say(
        "Baseline: `networkx.single_source_dijkstra_path_length` per source on the same "
        "(reduced) graph, from the head of the source's edge, read at the targets' edge tails "
        "(less work than the engine: no partial edges, no metres).\n"
    )
    say(
        "| matrix | engine first call after cache load | engine cold (median) | engine warm "
        "| search, no table | NetworkX baseline | baseline / engine cold |"
    )
    say("|---|---:|---:|---:|---:|---:|---:|")
    graph = _baseline_graph(largest)
    ratios: list[float] = []
    colds: dict[int, float] = {}
    cache = largest.cache_file.parent if largest.cache_file is not None else None
    for size, repeats, sample in ((100, 15, 100), (1000, 7, 50)):
        pts = _points(largest, size, seed=size)
        firsts = []
        for _ in range(5):
            fresh = load_region(REGIONS[largest.region_name], cache_dir=cache)
            started = time.perf_counter()
            fresh.travel_matrix(pts, pts)
            firsts.append(time.perf_counter() - started)

        def cold(net: RoadNetwork, p: list[Snap] = pts) -> None:
            net.rows.clear()
            net.travel_matrix(p, p)

        cold_s = _median(lambda: cold(largest), repeats)
        largest.travel_matrix(pts, pts)
        warm_s = _median(lambda p=pts: largest.travel_matrix(p, p), repeats)
        search_s = _median(lambda: cold(searched), 3)
        base = _median(lambda p=pts, k=sample: _baseline(largest, graph, p[:k], p), 3)
        base *= size / sample
        note = (
            "" if sample == size else f" (extrapolated from {sample} sources x {size / sample:.0f})"
        )
        say(
            f"| {size}x{size} | {statistics.median(firsts) * 1000:.1f} ms | "
            f"{cold_s * 1000:.1f} ms | {warm_s * 1000:.1f} ms | {search_s * 1000:.0f} ms | "
            f"{base * 1000:.0f} ms{note} | {base / cold_s:.0f}x |"
        )
        print(lines[-1], flush=True)
        ratios.append(base / cold_s)
        colds[size] = cold_s

    missed = []
    if colds[100] >= 0.05:
        missed.append(f"100x100 took {colds[100] * 1000:.0f} ms (target < 50 ms)")
    if colds[1000] >= 2.0:
        missed.append(f"1000x1000 took {colds[1000]:.2f} s (target < 2 s)")
    if min(ratios) < 50:
        missed.append(f"the ratio to NetworkX is {min(ratios):.0f}x (target >= 50x)")
    if missed:
        say("\n**Not reached:** " + "; ".join(missed) + ".")
    else:
        say(
            f"\nAll matrix targets reached in this run: {min(ratios):.0f}x-{max(ratios):.0f}x "
            "faster than NetworkX."
        )
    say(
        "\nFirst build includes the node table (all-pairs search, about a second here). The "
        "cache load does not read the table: the first matrix maps it (*first call* column), "
        "served from the page cache here; a disk read of the file would add to that once."
    )
    say(
        "\nTargets from the issue: cache load < 0.3 s; first build of liechtenstein < 30 s; "
        "100x100 < 50 ms; 1000x1000 < 2 s; >= 50x faster than the NetworkX baseline."
    )
    say(f"\nLoad average at the end: {os.getloadavg()[0]:.1f} (1 min).")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
