"""Other solvers on the same VRPTW instances, scored exactly like fieldrep's core.

``fieldrep bench solomon --against pyvrp,vroom`` runs these beside :func:`solve_solomon`:
each gets the same integer matrices (distances x :data:`SCALE`, travel times rounded up, costs
to nearest), the same fleet and the same time limit, and each returns routes of customer
numbers, which :func:`score` turns into a :class:`SolomonResult` by recomputing the distance
in floating point and checking windows, capacity and coverage (:func:`check_routes`). Nothing
a solver reports about its own cost is used.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, cast

import numpy as np

from routing.vrp.solomon import (
    SCALE,
    SolomonInstance,
    SolomonResult,
    check_routes,
    dimacs_cost,
    route_set_distance,
    solve_solomon,
)


def score(inst: SolomonInstance, routes: list[list[int]], seconds: float) -> SolomonResult:
    """A solver's routes as a :class:`SolomonResult` (float distance, feasibility checked)."""
    routes = [r for r in routes if r]
    return SolomonResult(
        name=inst.name,
        routes=routes,
        vehicles=len(routes),
        distance=route_set_distance(inst, routes),
        dimacs=dimacs_cost(inst, routes),
        violations=check_routes(inst, routes),
        seconds=seconds,
    )


def _scaled(inst: SolomonInstance) -> tuple[np.ndarray, np.ndarray]:
    """Integer durations (ceil) and costs (nearest) of the instance, x :data:`SCALE`."""
    d = inst.distances() * SCALE
    return np.ceil(d - 1e-9).astype(np.int64), np.rint(d).astype(np.int64)


def _sc(x: float) -> int:
    return round(x * SCALE)


def solve_pyvrp_plain(inst: SolomonInstance, time_limit_s: float, seed: int = 0) -> SolomonResult:
    """PyVRP on its own: one vehicle type, its default parameters, a wall-clock limit."""
    import pyvrp
    from pyvrp.stop import MaxRuntime

    t0 = time.monotonic()
    dur, cost = _scaled(inst)
    n = inst.n_customers
    data = pyvrp.ProblemData(
        locations=[pyvrp.Location(float(x), float(y)) for x, y in inst.xy],
        clients=[
            pyvrp.Client(
                c,
                delivery=[inst.demand[c]],
                service_duration=_sc(inst.service[c]),
                tw_early=_sc(inst.ready[c]),
                tw_late=_sc(inst.due[c]),
            )
            for c in range(1, n + 1)
        ],
        depots=[pyvrp.Depot(0, tw_early=_sc(inst.ready[0]), tw_late=_sc(inst.due[0]))],
        vehicle_types=[
            pyvrp.VehicleType(
                inst.vehicles,
                capacity=[inst.capacity],
                tw_early=_sc(inst.ready[0]),
                tw_late=_sc(inst.due[0]),
            )
        ],
        # PyVRP's stubs type matrices as ndarray[int, ...]; these are int64 2-D arrays.
        distance_matrices=cast(Any, [cost]),
        duration_matrices=cast(Any, [dur]),
    )
    res = pyvrp.solve(data, MaxRuntime(time_limit_s), seed=seed, collect_stats=False)
    routes = [[a.idx + 1 for a in r.schedule() if a.is_client()] for r in res.best.routes()]
    return score(inst, routes, time.monotonic() - t0)


def solve_vroom(inst: SolomonInstance, time_limit_s: float, seed: int = 0) -> SolomonResult:
    """VROOM (pyvroom): exploration level 5, 2 threads, the same time cap and matrices."""
    import vroom

    del seed  # VROOM's search is deterministic for given threads
    t0 = time.monotonic()
    dur, cost = _scaled(inst)
    vi = vroom.Input()
    vi.set_durations_matrix("car", dur)
    vi.set_costs_matrix("car", cost)
    for k in range(inst.vehicles):
        vi.add_vehicle(
            vroom.Vehicle(
                k + 1,
                start=0,
                end=0,
                capacity=[inst.capacity],
                time_window=vroom.TimeWindow(_sc(inst.ready[0]), _sc(inst.due[0])),
            )
        )
    for c in range(1, inst.n_customers + 1):
        vi.add_job(
            vroom.Job(
                c,
                location=c,
                default_service=_sc(inst.service[c]),
                delivery=[inst.demand[c]],
                time_windows=[vroom.TimeWindow(_sc(inst.ready[c]), _sc(inst.due[c]))],
            )
        )
    sol = vi.solve(exploration_level=5, nb_threads=2, timeout=timedelta(seconds=time_limit_s))
    routes: dict[int, list[int]] = {}
    for _, row in sol.routes.iterrows():
        if row["type"] == "job":
            routes.setdefault(int(row["vehicle_id"]), []).append(int(row["id"]))
    return score(inst, list(routes.values()), time.monotonic() - t0)


def solve_fieldrep(inst: SolomonInstance, time_limit_s: float, seed: int = 0) -> SolomonResult:
    """fieldrep's core (:func:`solve_solomon`), scored like the others."""
    res = solve_solomon(inst, time_limit_s, seed=seed)
    return score(inst, res.routes, res.seconds)


def solve_fieldrep_ortools(
    inst: SolomonInstance, time_limit_s: float, seed: int = 0
) -> SolomonResult:
    """fieldrep's OR-Tools engine alone (the core before PyVRP), scored like the others."""
    res = solve_solomon(inst, time_limit_s, seed=seed, engine="ortools")
    return score(inst, res.routes, res.seconds)


SOLVERS: dict[str, Callable[[SolomonInstance, float, int], SolomonResult]] = {
    "fieldrep": solve_fieldrep,
    "ortools": solve_fieldrep_ortools,
    "pyvrp": solve_pyvrp_plain,
    "vroom": solve_vroom,
}
"""Solvers by the name ``--against`` takes (``fieldrep`` always runs first)."""


def available(name: str) -> str | None:
    """``None`` when solver ``name`` can run here, else why not."""
    module = {"pyvrp": "pyvrp", "vroom": "vroom"}.get(name)
    if name not in SOLVERS:
        return f"unknown solver {name!r} (known: {', '.join(SOLVERS)})"
    if module is None:
        return None
    try:
        __import__(module)
    except ImportError:
        package = "pyvroom" if name == "vroom" else name
        return f"{name}: python package not installed (pip install {package})"
    return None


__all__ = [
    "SOLVERS",
    "available",
    "score",
    "solve_fieldrep",
    "solve_fieldrep_ortools",
    "solve_pyvrp_plain",
    "solve_vroom",
]
