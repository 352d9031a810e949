"""Benchmark of the road-network engine (routing.network) on the bundled extracts.

Measures, per bundled region, the first build (fresh cache) and the cached load, then
100x100 and 1000x1000 travel matrices on the largest region against a plain NetworkX Dijkstra
baseline on the same graph in the same run. Prints a report and writes
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


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _cold_process(code: str) -> float:
    """Seconds reported by a fresh interpreter (imports included)."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return float(out.stdout.strip().splitlines()[-1])


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
    say(f"- machine: {nproc or cpus} cores (`nproc`), {_cpu_model()}; shared with other agents,")
    say("  so numbers are noisy (medians over repeats)")
    say(f"- python {platform.python_version()}, numpy {np.__version__}, networkx {nx.__version__}")
    say("- command: `python bench/bench_network.py` (repository root, venv active)\n")

    say("## Build and cache load per bundled region\n")
    say(
        "| region | nodes | edges | first build, in process (median of 3) | first build, "
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
    say(
        f"\n## Matrices on {largest.region_name} ({largest.node_count} nodes), "
        "vs NetworkX in the same run\n"
    )
    say(
        "Engine: one SciPy Dijkstra per source from a virtual node on its snapped edge (partial "
        "edges at both ends), seconds and metres in one search. *cold* = per-region row cache "
        "cleared before each repeat; *warm* = same sources again (row cache hit)."
    )
    say(
        "Baseline: `networkx.single_source_dijkstra_path_length` per source on the same "
        "(reduced) graph, from the head of the source's edge, read at the targets' edge tails "
        "(less work than the engine: no partial edges, no metres).\n"
    )
    say(
        "| matrix | engine cold (median) | engine warm | NetworkX baseline | baseline / engine "
        "cold |"
    )
    say("|---|---:|---:|---:|---:|")
    graph = _baseline_graph(largest)
    ratios: list[float] = []
    for size, repeats, sample in ((100, 9, 100), (1000, 3, 50)):
        pts = _points(largest, size, seed=size)

        def cold(p: list[Snap] = pts) -> None:
            largest.rows.clear()
            largest.travel_matrix(p, p)

        cold_s = _median(cold, repeats)
        largest.travel_matrix(pts, pts)
        warm_s = _median(lambda p=pts: largest.travel_matrix(p, p), repeats)
        base = _median(lambda p=pts, k=sample: _baseline(largest, graph, p[:k], p), 3)
        base *= size / sample
        note = (
            "" if sample == size else f" (extrapolated from {sample} sources x {size / sample:.0f})"
        )
        say(
            f"| {size}x{size} | {cold_s * 1000:.1f} ms | {warm_s * 1000:.1f} ms | "
            f"{base * 1000:.0f} ms{note} | {base / cold_s:.0f}x |"
        )
        print(lines[-1], flush=True)
        ratios.append(base / cold_s)

    if min(ratios) < 50:
        say(
            f"\n**Not reached: the 50x ratio** (measured {min(ratios):.0f}x-{max(ratios):.0f}x "
            "cold). On a 1,500-node graph one SciPy Dijkstra costs ~0.15 ms against ~2.7 ms for "
            "NetworkX, which caps any one-search-per-source method near 20x; getting to 50x "
            "needs a precomputed structure (an all-pairs node table for small regions, or a "
            "contraction hierarchy). Repeated sources already hit the row cache (warm column)."
        )
    say(
        "\nTargets from the issue: cache load < 0.3 s; first build of liechtenstein < 30 s; "
        "100x100 < 50 ms; 1000x1000 < 2 s; >= 50x faster than the NetworkX baseline."
    )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    print(f"\nwrote {OUT}")


if __name__ == "__main__":
    main()
