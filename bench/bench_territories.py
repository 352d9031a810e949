
"""Territory engine benchmark: balance, dispersion, churn, time and memory vs baselines.

Run: ``python bench/bench_territories.py [--quick]`` (writes bench/results/territories.md).

Each case runs in its own process so that peak memory (ru_maxrss) belongs to that case.
Baselines on the same seeded data: ``k-means-constrained`` (balances account counts, which is
what it can do) and unbalanced weighted k-means (the dispersion yardstick).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from routing.territories import (  # noqa: E402
    InfeasibleBalanceError,
    RealignParams,
    RoadNetworkOracle,
    StraightLineOracle,
    TerritoryAccount,
    TerritoryRep,
    TravelTimeOracle,
    compute_kpis,
    design_territories,
    realign_territories,
    synthetic_instance,
)
from routing.territories._geo import project  # noqa: E402
from routing.territories.baselines import weighted_kmeans_plan  # noqa: E402

TOWN_SHARE = 0.3


def _road_instance(region: str, n: int, p: int, seed: int) -> tuple[Any, Any, TravelTimeOracle]:
    from routing.network import load_region

    net = load_region(
        ROOT / "routing" / "data" / f"{region}.osm.pbf", cache_dir=Path("/tmp/fieldrep-bench-cache")
    )
    rng = np.random.default_rng(seed)
    idx = rng.choice(net.node_count, n, replace=n > net.node_count)
    lat = net.node_lat[idx] + rng.normal(0, 0.0003, n)
    lon = net.node_lon[idx] + rng.normal(0, 0.0003, n)
    tier = rng.choice([4.0, 12.0, 24.0, 52.0], size=n, p=[0.35, 0.35, 0.2, 0.1])
    work = tier * rng.uniform(30, 90, n) / 60
    pot = rng.lognormal(np.log(10_000), 0.8, n) * tier / 12
    accounts = [
        TerritoryAccount(
            f"a{i}",
            float(lat[i]),
            float(lon[i]),
            float(work[i]),
            float(pot[i]),
            visits_per_year=float(tier[i]),
        )
        for i in range(n)
    ]
    h = rng.choice(net.node_count, p, replace=False)
    reps = [
        TerritoryRep(f"r{j}", float(net.node_lat[k]), float(net.node_lon[k]))
        for j, k in enumerate(h)
    ]
    return accounts, reps, RoadNetworkOracle(net)


def _events(accounts: list[TerritoryAccount], p: int, seed: int) -> list[TerritoryAccount]:
    rng = np.random.default_rng(seed + 1000)
    n = len(accounts)
    removed = set(rng.choice(n, n // 20, replace=False).tolist())
    changed = set(rng.choice(n, n // 10, replace=False).tolist())
    kept = [
        dataclasses.replace(a, workload_hours=a.workload_hours * float(rng.uniform(0.5, 1.5)))
        if i in changed
        else a
        for i, a in enumerate(accounts)
        if i not in removed
    ]
    # New accounts near existing ones (businesses open where businesses are).
    src = rng.choice(n, n // 20, replace=False)
    new = [
        dataclasses.replace(
            accounts[int(i)],
            id=f"new{k}",
            lat=accounts[int(i)].lat + float(rng.normal(0, 0.0003)),
            lon=accounts[int(i)].lon + float(rng.normal(0, 0.0003)),
            workload_hours=accounts[int(rng.integers(n))].workload_hours,
        )
        for k, i in enumerate(src)
    ]
    return kept + new


def _max_dev(rep_of: dict[str, str], accounts: list[TerritoryAccount]) -> float:
    loads: dict[str, float] = {}
    for a in accounts:
        loads[rep_of[a.id]] = loads.get(rep_of[a.id], 0.0) + a.workload_hours
    x = np.array(list(loads.values()))
    return float(np.abs(x / x.mean() - 1).max())


def run_case(case: dict[str, Any]) -> dict[str, Any]:
    """One benchmark case (runs in a child process)."""
    n, p, seed = case["n"], case["p"], case["seed"]
    if case["region"]:
        accounts, reps, oracle = _road_instance(case["region"], n, p, seed)
    else:
        accounts, reps = synthetic_instance(n, p, seed=seed, town_share=TOWN_SHARE)
        oracle = StraightLineOracle()
    out: dict[str, Any] = dict(case)
    t = time.perf_counter()
    plan = design_territories(accounts, reps, oracle)
    out["design_s"] = time.perf_counter() - t
    k = plan.kpis
    assert k is not None
    out.update(
        dev=k.workload_max_deviation,
        pot_dev=k.potential_max_deviation,
        disp=k.dispersion_seconds,
        contiguity=k.contiguity,
        fragments=k.fragments,
        overlap=k.hull_overlap,
        drive_h=k.weekly_drive_hours,
    )
    km = compute_kpis(accounts, reps, weighted_kmeans_plan(accounts, reps, seed), oracle)
    out.update(km_dev=km.workload_max_deviation, km_disp=km.dispersion_seconds)
    if case["kmc"]:
        from k_means_constrained import KMeansConstrained

        lat = np.array([a.lat for a in accounts])
        lon = np.array([a.lon for a in accounts])
        t = time.perf_counter()
        model = KMeansConstrained(
            n_clusters=p,
            size_min=n // p - n // (p * 20),
            size_max=n // p + n // (p * 20) + 1,
            random_state=seed,
            n_init=1,
        )
        labels = model.fit_predict(project(lat, lon))
        out["kmc_s"] = time.perf_counter() - t
        kmc = compute_kpis(
            accounts,
            reps,
            {a.id: reps[int(c)].id for a, c in zip(accounts, labels, strict=False)},
            oracle,
        )
        out.update(kmc_dev=kmc.workload_max_deviation, kmc_disp=kmc.dispersion_seconds)
    # Realignment scenarios.
    cur = plan.rep_of
    after = _events(accounts, p, seed)
    t = time.perf_counter()
    r = realign_territories(after, reps, cur, oracle)
    out["ev_s"] = time.perf_counter() - t
    out["ev_moved"] = len(r.moved) / len(after)
    out["ev_dev"] = _max_dev(r.rep_of, after)
    gone = reps[0].id
    orphan_w = sum(a.workload_hours for a in accounts if cur[a.id] == gone)
    t = time.perf_counter()
    try:
        r = realign_territories(accounts, reps[1:], cur, oracle, RealignParams(max_moved_share=0.5))
        out["leave_ratio"] = r.kpis.workload_moved_hours / orphan_w if r.kpis else float("nan")
        out["leave_dev"] = _max_dev(r.rep_of, accounts)
    except InfeasibleBalanceError:
        out["leave_ratio"] = float("nan")
    out["leave_s"] = time.perf_counter() - t
    # The newcomer lives next to one of r0's accounts (on the road network in road cases).
    h = next(a for a in accounts if cur[a.id] == reps[0].id)
    joined = [*reps, TerritoryRep("newbie", h.lat, h.lon)]
    total = sum(a.workload_hours for a in accounts)
    t = time.perf_counter()
    try:
        r = realign_territories(accounts, joined, cur, oracle, RealignParams(max_moved_share=0.5))
        out["join_ratio"] = (r.kpis.workload_moved_hours if r.kpis else 0) / (total / (p + 1))
        out["join_dev"] = _max_dev(r.rep_of, accounts)
    except InfeasibleBalanceError:
        out["join_ratio"] = float("nan")
    out["join_s"] = time.perf_counter() - t
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def _run_isolated(case: dict[str, Any]) -> dict[str, Any]:
    """Run one case in a fresh interpreter so its peak memory is its own."""
    proc = subprocess.run(
        [sys.executable, __file__, "--case", json.dumps(case)],
        capture_output=True,
        text=True,
        check=False,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"case {case['name']} failed:\n{proc.stderr}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        rev = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        rev = "?"
    return f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores (shared), Python {platform.python_version()}, git {rev}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="skip the 100k case")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "territories.md")
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return
    plan = [
        {"name": "1k/10 straight", "n": 1000, "p": 10, "region": None, "kmc": True, "repeats": 3},
        {"name": "10k/50 straight", "n": 10000, "p": 50, "region": None, "kmc": True, "repeats": 3},
        {
            "name": "1k/10 road Liechtenstein",
            "n": 1000,
            "p": 10,
            "region": "liechtenstein",
            "kmc": False,
            "repeats": 3,
        },
        {
            "name": "10k/50 road Liechtenstein",
            "n": 10000,
            "p": 50,
            "region": "liechtenstein",
            "kmc": False,
            "repeats": 1,
        },
    ]
    if not args.quick:
        plan.append(
            {
                "name": "100k/250 straight",
                "n": 100000,
                "p": 250,
                "region": None,
                "kmc": False,
                "repeats": 1,
            }
        )
    rows = []
    for spec in plan:
        runs = []
        for rep in range(spec["repeats"]):
            case = {k: spec[k] for k in ("name", "n", "p", "region", "kmc")} | {"seed": rep}
            print(f"{spec['name']} seed {rep} ...", file=sys.stderr, flush=True)
            runs.append(_run_isolated(case))
        med = {
            k: float(statistics.median([r[k] for r in runs]))
            for k in runs[0]
            if isinstance(runs[0][k], int | float)
            and not isinstance(runs[0][k], bool)
            and k not in {"n", "p", "seed"}
        }
        med["worst_dev"] = max(r["dev"] for r in runs)
        rows.append((spec, med))
        print(spec["name"], {k: round(v, 4) for k, v in med.items()}, file=sys.stderr, flush=True)
    lines = [
        "# Territory engine benchmark",
        "",
        f"- Machine: {_machine()}",
        f"- Command: `python bench/bench_territories.py{' --quick' if args.quick else ''}` (each case in its own process)",
        f"- Data: seeded synthetic (`synthetic_instance(town_share={TOWN_SHARE})`: 30 % of accounts in towns); "
        "road cases put accounts at random road nodes of the bundled extract. Medians over seeds 0..repeats-1.",
        "- Baselines: `k-means-constrained` with account-count bounds ±5 % (what it can balance), "
        "and unbalanced weighted k-means (Lloyd, k-means++, best of 3) as the dispersion yardstick.",
        "- Dispersion: workload-weighted mean drive seconds from each territory's weighted centroid, same oracle for all.",
        "",
        "## Design",
        "",
        "| case | runs | time s | peak MB | max dev (worst run) | potential dev | dispersion s | vs w-k-means | w-k-means dev | k-m-constrained dev | k-m-c dispersion ratio | k-m-c time s | contiguity | fragments | hull overlap |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for spec, m in rows:
        kmc = (
            f"{m['kmc_dev']:.1%} | {m['kmc_disp'] / m['km_disp']:.3f} | {m['kmc_s']:.1f}"
            if "kmc_dev" in m
            else "not run (planar-only; 59 s at 10k already) | | "
        )
        lines.append(
            f"| {spec['name']} | {spec['repeats']} | {m['design_s']:.2f} | {m['peak_mb']:.0f} | {m['dev']:.2%} ({m['worst_dev']:.2%}) | "
            f"{m['pot_dev']:.1%} | {m['disp']:.0f} | {m['disp'] / m['km_disp']:.3f} | {m['km_dev']:.0%} | {kmc} | "
            f"{m['contiguity']:.3f} | {m['fragments']:.0f} | {m['overlap']:.3f} |"
        )
    lines += [
        "",
        "## Realignment",
        "",
        "Events: 5 % of accounts added, 5 % removed, 10 % of workloads changed (x0.5..1.5). "
        "Leave: rep r0 leaves (moved workload / orphaned workload). Join: a rep joins next to r0 "
        "(moved workload / (total / (p+1))).",
        "",
        "| case | events: moved share | events s | events max dev | leave: ratio | leave s | join: ratio | join s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for spec, m in rows:
        lines.append(
            f"| {spec['name']} | {m['ev_moved']:.2%} | {m['ev_s']:.2f} | {m['ev_dev']:.2%} | {m['leave_ratio']:.2f} | "
            f"{m['leave_s']:.2f} | {m['join_ratio']:.2f} | {m['join_s']:.2f} |"
        )
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
