"""PyVRP's iterated local search as the search engine behind the same model.

The model is the one :func:`routing.vrp.validate.prepare` builds for OR-Tools
(:class:`routing.vrp.engine.CoreInput`); this module only translates it:

* **Optional stops are prize-collecting clients** (prize = the stop's penalty), required stops
  are required clients; a stop with several windows becomes one client per window in a
  mutually exclusive group (required when the stop is).
* **Vehicles are vehicle types** with their own start and end depot and shift
  (``tw_early``/``tw_late``); identical vehicles share a type. When stops are restricted to
  some vehicles, or several vehicles have breaks, each vehicle gets its own profile in which
  the clients it may not take are unreachable.
* **A break is a visit at the rep's current location.** PyVRP has no breaks, so each break
  becomes a required group of clients, one at each place the rep can be (home and every
  candidate's location), with the break's duration as service time and its start window as
  time window. Travel to the break client at the same place is zero, so "A, break, B" costs
  and takes exactly "A, B" plus the break. Any PyVRP-feasible plan is therefore feasible for
  the day planner, and the route is then re-timed by :func:`routing.vrp.schedule.time_route`
  with the break placed in the same gap (which may only be earlier, e.g. during the drive).
  The model loses nothing when the break window is at least as long as the longest drive
  (a break that must start and end inside one drive is the only thing it cannot express), and
  :func:`exact_for` sends the other cases to OR-Tools.

The caller verifies the final plan (:func:`routing.vrp.validate.check_plan`) and falls back
to OR-Tools when this module returns ``None`` or the plan fails verification.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pyvrp
from pyvrp import IteratedLocalSearchParams
from pyvrp.search import PerturbationParams
from pyvrp.stop import MaxIterations, MaxRuntime, MultipleCriteria, StoppingCriterion

from routing.vrp.engine import UNREACHABLE, CoreInput, CoreResult, CoreRoute, IntMatrix, int_matrix
from routing.vrp.model import SolveParams
from routing.vrp.schedule import time_route

MAX_PROFILE_ENTRIES = 30_000_000
"""Largest total size of per-vehicle matrices (entries) built for PyVRP; beyond, OR-Tools."""


SHORT_HISTORY = 50
"""Late-acceptance history of work-limited runs (PyVRP's default 300 suits long runs)."""

SHORT_PERTURBATION = 10
"""Most clients perturbed per iteration in work-limited runs (PyVRP's default: 25).

Measured on one-rep days of 40-100 candidates (``bench/bench_vrp.py`` and the tests' days):
with PyVRP's defaults and a budget of about a second the search is still accepting much worse
plans when it stops (+0.3 to +1.3 % over the best plan known); a history of 50 and at most
10 perturbed clients halve the cost of an iteration and end at +0.0 to +0.9 %.
"""


def default_iterations(n_visits: int) -> int:
    """PyVRP iterations for a work-limited solve of ``n_visits`` candidate visits.

    About 40 per candidate (with :data:`SHORT_HISTORY` and :data:`SHORT_PERTURBATION`) reach
    the best plan of a long run on most measured days; 1,000 at least (small days are cheap),
    4,000 at most (a 100-candidate day then takes about a second on an idle core).
    """
    return int(min(4000, max(1000, 40 * n_visits)))


def scaled_iterations(n_visits: int, solution_limit: int) -> int:
    """:func:`default_iterations`, scaled down for a lighter effort than the default.

    Callers ask for a quick plan with a smaller OR-Tools ``solution_limit`` (the day planner's
    ``quick`` effort and the week planner's ordering between passes use 20 instead of 300);
    PyVRP then gets the same share of its default iterations, at least 50.
    """
    full = default_iterations(n_visits)
    default_limit = SolveParams().solution_limit or solution_limit
    if solution_limit >= default_limit:
        return full
    return max(50, full * solution_limit // default_limit)


@dataclass(frozen=True, slots=True)
class _Client:
    """What one PyVRP client stands for: a window of a stop, or a break at a place."""

    is_break: bool
    k: int
    """Position in ``plan_stops`` (a stop) or vehicle index (a break)."""
    j: int
    """Window index (a stop) or break index (a break)."""
    location: int


def exact_for(ci: CoreInput, params: SolveParams) -> bool:
    """Whether this module models the problem exactly (else OR-Tools plans it).

    A previous order (re-planning) is priced per changed successor in the OR-Tools model;
    a break window shorter than the longest drive could need a break inside one drive.
    """
    if params.previous_order:
        return False
    if not any(v.breaks for v in ci.problem.vehicles):
        return True
    secs = int_matrix(ci.problem.seconds, ceil=True)
    locs = sorted(
        {ci.problem.stops[s].location for s in ci.plan_stops}
        | {v.start_location for v in ci.problem.vehicles}
        | {v.end_location for v in ci.problem.vehicles}
    )
    sub = secs[np.ix_(locs, locs)]
    longest = int(sub[sub < UNREACHABLE].max()) if sub.size else 0
    return all(
        b.latest_start - b.earliest_start >= longest for v in ci.problem.vehicles for b in v.breaks
    )


class PyvrpCore:
    """The problem as PyVRP ``ProblemData``, and the way back to :class:`CoreResult`.

    Example:
        >>> result = PyvrpCore(core_input, params).solve(deadline)  # doctest: +SKIP
    """

    def __init__(self, ci: CoreInput, params: SolveParams) -> None:
        self.ci, self.params = ci, params
        p = ci.problem
        self.secs = int_matrix(p.seconds, ceil=True)
        self.cost = (
            int_matrix(p.metres, ceil=False) if params.objective == "distance" else self.secs
        )
        vehicles = p.vehicles
        endpoints = sorted(
            {v.start_location for v in vehicles} | {v.end_location for v in vehicles}
        )
        depot_of = {loc: i for i, loc in enumerate(endpoints)}
        clients: list[_Client] = []
        groups: list[tuple[list[int], bool]] = []
        group_of: dict[int, int] = {}
        for k, si in enumerate(ci.plan_stops):
            stop = p.stops[si]
            first = len(clients)
            clients += [_Client(False, k, j, stop.location) for j in range(len(ci.starts[k]))]
            if len(ci.starts[k]) > 1:
                members = list(range(first, len(clients)))
                group_of.update(dict.fromkeys(members, len(groups)))
                groups.append((members, stop.required))
        for vi, v in enumerate(vehicles):
            places = sorted(
                {v.start_location, v.end_location}
                | {
                    p.stops[si].location
                    for k, si in enumerate(ci.plan_stops)
                    if vi in ci.allowed_vehicles[k]
                }
            )
            for j in range(len(v.breaks)):
                first = len(clients)
                clients += [_Client(True, vi, j, loc) for loc in places]
                if len(places) > 1:
                    members = list(range(first, len(clients)))
                    group_of.update(dict.fromkeys(members, len(groups)))
                    groups.append((members, True))
        self.clients = clients
        n_dep = len(endpoints)
        node_loc = np.array(endpoints + [c.location for c in clients], dtype=np.int64)
        dist = self.cost[np.ix_(node_loc, node_loc)]
        dur = self.secs[np.ix_(node_loc, node_loc)]
        np.fill_diagonal(dist, 0)  # PyVRP requires it; a stop's own row is never an arc here
        np.fill_diagonal(dur, 0)

        restricted = any(len(a) < len(vehicles) for a in ci.allowed_vehicles)
        with_breaks = sum(bool(v.breaks) for v in vehicles)
        per_vehicle = len(vehicles) > 1 and (restricted or with_breaks > 0)
        self.fits = not per_vehicle or 2 * len(vehicles) * dist.size <= MAX_PROFILE_ENTRIES
        has_load = any(v.capacity is not None for v in vehicles)
        big_cap = sum(p.stops[s].demand for s in ci.plan_stops) + 1

        dist_mats: list[IntMatrix] = [dist]
        dur_mats: list[IntMatrix] = [dur]
        types: list[Any] = []
        self.type_vehicles: list[list[int]] = []
        keyed: dict[tuple[object, ...], int] = {}
        for vi, v in enumerate(vehicles):
            profile = 0
            if per_vehicle and self.fits:
                banned = [
                    n_dep + ci_idx
                    for ci_idx, c in enumerate(clients)
                    if (c.is_break and c.k != vi)
                    or (not c.is_break and vi not in ci.allowed_vehicles[c.k])
                ]
                d2, t2 = dist.copy(), dur.copy()
                for m in (d2, t2):
                    m[banned, :] = UNREACHABLE
                    m[:, banned] = UNREACHABLE
                    np.fill_diagonal(m, 0)
                dist_mats.append(d2)
                dur_mats.append(t2)
                profile = len(dist_mats) - 1
            key = (
                v.start_location,
                v.end_location,
                v.shift_start,
                v.shift_end,
                v.capacity,
                *v.breaks,
            )
            if not per_vehicle and not v.breaks and key in keyed:
                self.type_vehicles[keyed[key]].append(vi)
                continue
            keyed.setdefault(key, len(types))
            types.append(
                {
                    "capacity": [v.capacity if v.capacity is not None else big_cap]
                    if has_load
                    else [],
                    "start_depot": depot_of[v.start_location],
                    "end_depot": depot_of[v.end_location],
                    "tw_early": v.shift_start,
                    "tw_late": v.shift_end,
                    "profile": profile,
                }
            )
            self.type_vehicles.append([vi])
        if len(dist_mats) > 1:  # profile 0 unused: every vehicle has its own
            dist_mats, dur_mats = dist_mats[1:], dur_mats[1:]
            for t in types:
                t["profile"] -= 1
        horizon = max(v.shift_end for v in vehicles)
        depots = [
            pyvrp.Depot(i, tw_early=min(v.shift_start for v in vehicles), tw_late=horizon)
            for i in range(n_dep)
        ]
        pv_clients = []
        for ci_idx, c in enumerate(clients):
            group = group_of.get(ci_idx)
            if c.is_break:
                b = vehicles[c.k].breaks[c.j]
                pv_clients.append(
                    pyvrp.Client(
                        n_dep + ci_idx,
                        delivery=[0] if has_load else [],
                        service_duration=b.duration,
                        tw_early=b.earliest_start,
                        tw_late=b.latest_start,
                        required=group is None,
                        group=group,
                    )
                )
                continue
            stop = p.stops[ci.plan_stops[c.k]]
            lo, hi = ci.starts[c.k][c.j]
            pv_clients.append(
                pyvrp.Client(
                    n_dep + ci_idx,
                    delivery=[stop.demand] if has_load else [],
                    service_duration=stop.duration_s,
                    tw_early=lo,
                    tw_late=hi,
                    prize=0 if stop.required else max(0, int(stop.penalty)),
                    required=stop.required and group is None,
                    group=group,
                )
            )
        self.data = pyvrp.ProblemData(
            locations=[pyvrp.Location(0.0, 0.0) for _ in range(len(node_loc))],
            clients=pv_clients,
            depots=depots,
            vehicle_types=[
                pyvrp.VehicleType(len(self.type_vehicles[ti]), **t) for ti, t in enumerate(types)
            ],
            # PyVRP's stubs type matrices as ndarray[int, ...]; these are int64 2-D arrays.
            distance_matrices=cast(Any, dist_mats),
            duration_matrices=cast(Any, dur_mats),
            groups=[pyvrp.ClientGroup(m, required=r) for m, r in groups],
        )

    def stopping(self, deadline: float) -> StoppingCriterion:
        """Iterations when work-limited (reproducible), with the deadline as a safety net."""
        remaining = max(0.01, deadline - time.monotonic())
        if self.params.solution_limit is None:
            return MaxRuntime(remaining)
        iterations = self.params.iterations or scaled_iterations(
            len(self.ci.plan_stops), self.params.solution_limit
        )
        return MultipleCriteria([MaxIterations(iterations), MaxRuntime(remaining)])

    def solve(self, deadline: float) -> CoreResult | None:
        """Search, then time every route exactly; ``None`` when no verified plan came out."""
        if not self.fits:
            return None
        short = self.params.solution_limit is not None
        res = pyvrp.solve(
            self.data,
            self.stopping(deadline),
            seed=self.params.seed,
            collect_stats=False,
            display=False,
            params=pyvrp.SolveParams(
                ils=IteratedLocalSearchParams(history_length=SHORT_HISTORY),
                perturbation=PerturbationParams(1, SHORT_PERTURBATION),
            )
            if short
            else pyvrp.SolveParams(),
        )
        if not res.best.is_feasible():
            return None
        return self.extract(res.best)

    def extract(self, solution: Any) -> CoreResult | None:
        """Routes of ``solution`` per vehicle, timed by :func:`time_route`."""
        p, ci = self.ci.problem, self.ci
        free = [list(vs) for vs in self.type_vehicles]
        sequences: dict[int, list[_Client]] = {}
        for route in solution.routes():
            vi = free[route.vehicle_type()].pop(0)
            sequences[vi] = [self.clients[a.idx] for a in route.schedule() if a.is_client()]
        routes: list[CoreRoute] = []
        planned: set[int] = set()
        for vi, v in enumerate(p.vehicles):
            seq = sequences.get(vi, [])
            visits = [c for c in seq if not c.is_break]
            gaps: list[list[int]] = [[]]
            for c in seq:
                if c.is_break:
                    if c.k != vi:
                        return None
                    gaps[-1].append(c.j)
                else:
                    gaps.append([])
            if not seq:
                gaps = [list(range(len(v.breaks)))]
            stops = [ci.plan_stops[c.k] for c in visits]
            timing = time_route(
                self.secs,
                v,
                [c.location for c in visits],
                [p.stops[s].duration_s for s in stops],
                [ci.starts[c.k][c.j] for c in visits],
                gaps,
            )
            if timing is None:
                return None
            planned.update(c.k for c in visits)
            routes.append(
                CoreRoute(
                    stops=stops,
                    starts=timing.starts,
                    departure=timing.departure,
                    end_arrival=timing.end_arrival,
                    break_starts=timing.break_starts,
                )
            )
        unplanned = [s for k, s in enumerate(ci.plan_stops) if k not in planned]
        return CoreResult(routes, unplanned, self.objective(routes, unplanned))

    def objective(self, routes: list[CoreRoute], unplanned: list[int]) -> int:
        """Arc costs of the routes plus the penalties of unplanned stops (OR-Tools' objective)."""
        p = self.ci.problem
        total = 0
        for v, r in zip(p.vehicles, routes, strict=True):
            if not r.stops:
                continue
            locs = [v.start_location, *(p.stops[s].location for s in r.stops), v.end_location]
            total += int(sum(self.cost[a, b] for a, b in itertools.pairwise(locs)))
        for s in unplanned:
            stop = p.stops[s]
            total += self.ci.required_penalty if stop.required else max(0, int(stop.penalty))
        return total


def solve_pyvrp(ci: CoreInput, params: SolveParams, deadline: float) -> CoreResult | None:
    """Plan with PyVRP; ``None`` when it found no feasible plan or the model does not fit."""
    return PyvrpCore(ci, params).solve(deadline)


__all__ = [
    "MAX_PROFILE_ENTRIES",
    "SHORT_HISTORY",
    "SHORT_PERTURBATION",
    "PyvrpCore",
    "default_iterations",
    "exact_for",
    "scaled_iterations",
    "solve_pyvrp",
]
