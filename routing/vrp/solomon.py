"""Solomon VRPTW instances: reading (VRPLIB and classic text), costs, and solving with the core.

Distance convention: **Euclidean, not rounded** (floating point), the convention of the
distance-only best-known solutions we compare against (``distonly_distance`` in ``bks.csv``).
The solver works on integers scaled by :data:`SCALE` (travel times rounded *up* so that every
integer-feasible plan is feasible in floating point; costs rounded to nearest), and the reported
distance is recomputed in floating point from the final routes. :func:`dimacs_cost` gives the
DIMACS convention (each arc truncated to one decimal) for comparison with ``.sol`` files.

Example:
    >>> inst = read_solomon("tests/data/vrp/C101.vrp")   # doctest: +SKIP
    >>> round(route_set_distance(inst, read_solution("tests/data/vrp/C101.sol")), 2)
    828.94
"""

from __future__ import annotations

import csv
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from routing.vrp.model import DayProblem, SolveParams, Stop, TimeWindow, Vehicle

SCALE = 1000
"""Integer scaling of Solomon distances/times inside the solver (three decimals)."""


@dataclass(frozen=True, slots=True)
class SolomonInstance:
    """A VRPTW instance; node 0 is the depot, customers are ``1..n``.

    Windows bound the *start* of service, as in Solomon's data.
    """

    name: str
    vehicles: int
    capacity: int
    xy: npt.NDArray[np.float64]
    demand: list[int]
    ready: list[float]
    due: list[float]
    service: list[float]

    @property
    def n_customers(self) -> int:
        """Number of customers (nodes minus the depot)."""
        return len(self.demand) - 1

    def distances(self) -> npt.NDArray[np.float64]:
        """Euclidean distance matrix, unrounded."""
        d = self.xy[:, None, :] - self.xy[None, :, :]
        out: npt.NDArray[np.float64] = np.sqrt((d**2).sum(axis=2))
        return out


@dataclass(frozen=True, slots=True)
class BestKnown:
    """Best-known solutions of one instance (``None`` where not known)."""

    hier_vehicles: int | None = None
    hier_distance: float | None = None
    distonly_vehicles: int | None = None
    distonly_distance: float | None = None
    dimacs_cost: float | None = None
    sol_routes: list[list[int]] = field(default_factory=list)
    sol_cost: float | None = None


def read_solomon(path: str | Path) -> SolomonInstance:
    """Read a VRPTW instance in VRPLIB (``NODE_COORD_SECTION``...) or classic Solomon layout.

    Raises:
        ValueError: The file is in neither layout.
    """
    p = Path(path)
    text = p.read_text()
    if "NODE_COORD_SECTION" in text:
        return _read_vrplib(p.stem, text)
    if re.search(r"^\s*CUSTOMER", text, re.MULTILINE) and "VEHICLE" in text:
        return _read_classic(p.stem, text)
    raise ValueError(f"{p}: not a Solomon instance (VRPLIB or classic layout)")


def _read_vrplib(stem: str, text: str) -> SolomonInstance:
    header: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line == "EOF":
            continue
        if line.endswith("_SECTION"):
            current = line
            sections[current] = []
        elif current is None and ":" in line:
            k, v = line.split(":", 1)
            header[k.strip().upper()] = v.strip()
        elif current is not None:
            sections[current].append(line.split())
    coords = sections["NODE_COORD_SECTION"]
    n = len(coords)
    depot_id = int(sections.get("DEPOT_SECTION", [["1"]])[0][0])
    ids = [int(r[0]) for r in coords]
    order = [ids.index(depot_id)] + [i for i in range(n) if ids[i] != depot_id]
    xy = np.array([[float(coords[i][1]), float(coords[i][2])] for i in order])
    by_id_dem = {int(r[0]): int(float(r[1])) for r in sections.get("DEMAND_SECTION", [])}
    by_id_tw = {
        int(r[0]): (float(r[1]), float(r[2])) for r in sections.get("TIME_WINDOW_SECTION", [])
    }
    svc_rows = {int(r[0]): float(r[1]) for r in sections.get("SERVICE_TIME_SECTION", [])}
    default_svc = float(header.get("SERVICE_TIME", "0"))
    node_ids = [ids[i] for i in order]
    service = [0.0 if nid == depot_id else svc_rows.get(nid, default_svc) for nid in node_ids]
    return SolomonInstance(
        name=header.get("NAME", stem),
        vehicles=int(header.get("VEHICLES", n - 1)),
        capacity=int(float(header.get("CAPACITY", "0"))),
        xy=xy,
        demand=[by_id_dem.get(nid, 0) for nid in node_ids],
        ready=[by_id_tw.get(nid, (0.0, math.inf))[0] for nid in node_ids],
        due=[by_id_tw.get(nid, (0.0, math.inf))[1] for nid in node_ids],
        service=service,
    )


def _read_classic(stem: str, text: str) -> SolomonInstance:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    name = lines[0]
    vi = next(i for i, ln in enumerate(lines) if ln.upper().startswith("VEHICLE"))
    nums = lines[vi + 2].split()
    vehicles, capacity = int(nums[0]), int(nums[1])
    rows = [ln.split() for ln in lines[vi + 3 :] if re.match(r"^\d", ln)]
    rows = [r for r in rows if len(r) >= 7]
    return SolomonInstance(
        name=name or stem,
        vehicles=vehicles,
        capacity=capacity,
        xy=np.array([[float(r[1]), float(r[2])] for r in rows]),
        demand=[int(float(r[3])) for r in rows],
        ready=[float(r[4]) for r in rows],
        due=[float(r[5]) for r in rows],
        service=[float(r[6]) for r in rows],
    )


def read_solution(path: str | Path) -> tuple[list[list[int]], float | None]:
    """Read a ``.sol`` file: ``Route #k: c1 c2 ...`` lines and an optional ``Cost X`` line."""
    routes: list[list[int]] = []
    cost: float | None = None
    for line in Path(path).read_text().splitlines():
        if line.lower().startswith("route"):
            routes.append([int(x) for x in line.split(":", 1)[1].split()])
        elif line.lower().startswith("cost"):
            cost = float(line.split()[1])
    return routes, cost


def read_best_known(instance_path: str | Path, name: str) -> BestKnown:
    """Best-known figures beside an instance: ``<stem>.sol`` and a ``bks.csv`` row."""
    p = Path(instance_path)
    bk: dict[str, object] = {}
    sol = p.with_suffix(".sol")
    if sol.exists():
        routes, cost = read_solution(sol)
        bk["sol_routes"], bk["sol_cost"] = routes, cost
    csv_path = p.parent / "bks.csv"
    if csv_path.exists():
        with csv_path.open(newline="") as f:
            for row in csv.DictReader(f):
                if row.get("instance", "").strip().upper() in {name.upper(), p.stem.upper()}:
                    bk |= {
                        "hier_vehicles": _whole(row, "hier_vehicles"),
                        "hier_distance": _num(row, "hier_distance"),
                        "distonly_vehicles": _whole(row, "distonly_vehicles"),
                        "distonly_distance": _num(row, "distonly_distance"),
                        "dimacs_cost": _num(row, "cvrplib_dimacs_cost"),
                    }
    return BestKnown(**bk)  # type: ignore[arg-type]


def _num(row: dict[str, str], key: str) -> float | None:
    v = (row.get(key) or "").strip()
    return float(v) if v else None


def _whole(row: dict[str, str], key: str) -> int | None:
    v = _num(row, key)
    return int(v) if v is not None else None


def route_set_distance(inst: SolomonInstance, routes: list[list[int]]) -> float:
    """Total Euclidean distance (unrounded) of depot-to-depot routes of customer numbers."""
    d = inst.distances()
    return float(sum(d[a, b] for r in routes for a, b in zip([0, *r], [*r, 0], strict=False)))


def dimacs_cost(inst: SolomonInstance, routes: list[list[int]]) -> float:
    """Total distance with each arc truncated to one decimal (DIMACS challenge convention)."""
    d = np.floor(inst.distances() * 10) / 10
    total = sum(d[a, b] for r in routes for a, b in zip([0, *r], [*r, 0], strict=False))
    return round(float(total), 1)


def check_routes(inst: SolomonInstance, routes: list[list[int]], tol: float = 1e-6) -> list[str]:
    """Violations of windows, capacity, or coverage in floating point (empty list = feasible)."""
    d = inst.distances()
    errors: list[str] = []
    seen = [c for r in routes for c in r]
    if sorted(seen) != list(range(1, inst.n_customers + 1)):
        errors.append("customers not each visited exactly once")
    if len([r for r in routes if r]) > inst.vehicles:
        errors.append("too many vehicles")
    for ri, r in enumerate(routes):
        t, load, prev = inst.ready[0], 0, 0
        for c in r:
            t = max(t + inst.service[prev] + d[prev, c], inst.ready[c])
            if t > inst.due[c] + tol:
                errors.append(f"route {ri}: customer {c} starts at {t:.3f} > due {inst.due[c]}")
            load += inst.demand[c]
            prev = c
        if r and t + inst.service[prev] + d[prev, 0] > inst.due[0] + tol:
            errors.append(f"route {ri}: returns late to the depot")
        if load > inst.capacity:
            errors.append(f"route {ri}: load {load} > capacity {inst.capacity}")
    return errors


@dataclass(frozen=True, slots=True)
class SolomonResult:
    """Our solution of one instance, with floating-point figures from the final routes."""

    name: str
    routes: list[list[int]]
    vehicles: int
    distance: float
    dimacs: float
    violations: list[str]
    seconds: float


def to_day_problem(inst: SolomonInstance) -> DayProblem:
    """The instance as a :class:`DayProblem` for the same core that plans a rep's day.

    Distances and times are scaled by :data:`SCALE`; windows become "whole visit inside"
    windows (due + service); all customers are required; one vehicle per allowed vehicle.
    """
    d = inst.distances() * SCALE

    def sc(x: float) -> int:
        return round(x * SCALE)

    vehicles = [
        Vehicle(f"v{k + 1}", 0, 0, sc(inst.ready[0]), sc(inst.due[0]), capacity=inst.capacity)
        for k in range(inst.vehicles)
    ]
    stops = [
        Stop(
            id=str(c),
            location=c,
            duration_s=sc(inst.service[c]),
            windows=[TimeWindow(sc(inst.ready[c]), sc(inst.due[c] + inst.service[c]))],
            required=True,
            demand=inst.demand[c],
        )
        for c in range(1, inst.n_customers + 1)
    ]
    return DayProblem(seconds=d, metres=d, vehicles=vehicles, stops=stops)


def solve_solomon(
    inst: SolomonInstance,
    time_limit_s: float = 10.0,
    *,
    seed: int = 0,
    engine: Literal["auto", "pyvrp", "ortools"] = "auto",
) -> SolomonResult:
    """Solve a VRPTW instance with :func:`routing.vrp.solve`, minimising total distance.

    Time-limited (``solution_limit=None``): the result depends on machine speed and load.
    ``engine`` picks the search engine as in :attr:`SolveParams.engine`.
    """
    from routing.vrp.solve import solve

    t0 = time.monotonic()
    params = SolveParams(
        time_limit_s=time_limit_s,
        solution_limit=None,
        objective="distance",
        seed=seed,
        engine=engine,
    )
    sol = solve(to_day_problem(inst), params)
    routes = [[int(rs.stop_id) for rs in r.stops] for r in sol.routes.values() if r.stops]
    return SolomonResult(
        name=inst.name,
        routes=routes,
        vehicles=len(routes),
        distance=route_set_distance(inst, routes),
        dimacs=dimacs_cost(inst, routes),
        violations=check_routes(inst, routes),
        seconds=time.monotonic() - t0,
    )


__all__ = [
    "SCALE",
    "BestKnown",
    "SolomonInstance",
    "SolomonResult",
    "check_routes",
    "dimacs_cost",
    "read_best_known",
    "read_solomon",
    "read_solution",
    "route_set_distance",
    "solve_solomon",
    "to_day_problem",
]
