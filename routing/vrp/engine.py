"""The one OR-Tools model behind every solve (a rep's day, a team's day, Solomon benchmarks).

The day planner and the benchmark share this module on purpose: what the benchmark measures is
exactly what plans a rep's day. Design choices, and why:

* **Nodes are stops plus one node per distinct vehicle endpoint**, mapped to matrix locations,
  so several stops may share a location and a vehicle may start anywhere (re-planning from the
  current position).
* **Matrices are registered as integer matrices** (``RegisterTransitMatrix``), not Python
  callbacks: the search then never calls back into Python, which is what makes a 60-stop day
  solve in well under a second.
* **Every stop is a disjunction**; required stops get a penalty larger than any plan's cost.
  A first solution therefore always exists (no "no solution found" on tight windows, the trap
  of path-cheapest-arc on R101), a required stop that cannot be fitted is *named* afterwards
  instead of making the whole solve fail, and a partial route set is a valid assignment, which
  the ruin-and-recreate layer (:mod:`routing.vrp.lns`) relies on.
* **Work-limited search**: each phase stops after ``solution_limit`` solutions, so the same
  input gives the same plan on any machine; the wall-clock limit is only a safety net.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from routing.vrp.model import DayProblem, SolveParams

UNREACHABLE = 10_000_000
"""Integer travel value standing in for "no road": larger than any horizon, so never usable."""

IntMatrix = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class CoreInput:
    """A validated problem, reduced to what the OR-Tools model needs.

    Attributes:
        problem: The caller's problem.
        plan_stops: Indices into ``problem.stops`` that may be planned (others were ruled out
            before solving, with a reason).
        allowed_vehicles: Per entry of ``plan_stops``, vehicle indices that may visit it.
        starts: Per stop in ``plan_stops``, the allowed visit-start interval(s) (already
            shrunk by the visit duration).
        required_penalty: Penalty used for required stops (dominates every other cost).
    """

    problem: DayProblem
    plan_stops: list[int]
    allowed_vehicles: list[list[int]]
    starts: list[list[tuple[int, int]]]
    required_penalty: int


@dataclass(frozen=True, slots=True)
class CoreRoute:
    """A vehicle's route as solved: stop indices (into ``problem.stops``) and times."""

    stops: list[int]
    starts: list[int]
    departure: int
    end_arrival: int
    break_starts: list[int | None]


@dataclass(frozen=True, slots=True)
class CoreResult:
    """Raw solver output: routes per vehicle index, unplanned stop indices, objective."""

    routes: list[CoreRoute]
    unplanned: list[int]
    objective: int


def int_matrix(m: Any, *, ceil: bool) -> IntMatrix:
    """Convert a caller matrix to int64, mapping inf/nan/negative to :data:`UNREACHABLE`.

    Args:
        m: Square numpy array (int or float).
        ceil: Round up (travel times: never under-estimate, so integer plans stay feasible in
            floating point) instead of to nearest (costs).
    """
    a = np.asarray(m, dtype=np.float64)
    bad = ~np.isfinite(a) | (a < 0) | (a >= UNREACHABLE)
    a = np.where(bad, 0.0, a)
    out = (np.ceil(a - 1e-9) if ceil else np.rint(a)).astype(np.int64)
    out[bad] = UNREACHABLE
    return out


class Core:
    """Builds the OR-Tools model once and runs search phases on it.

    Example:
        >>> core = Core(core_input, params)                 # doctest: +SKIP
        >>> result = core.search(initial_routes=None, phase="gls")  # doctest: +SKIP
    """

    def __init__(self, ci: CoreInput, params: SolveParams) -> None:
        self.ci = ci
        self.params = params
        p = ci.problem
        self.n_stops = len(ci.plan_stops)
        vehicles = p.vehicles
        endpoints = sorted(
            {v.start_location for v in vehicles} | {v.end_location for v in vehicles}
        )
        depot_node = {loc: self.n_stops + i for i, loc in enumerate(endpoints)}
        self.node_loc = np.array(
            [p.stops[s].location for s in ci.plan_stops] + endpoints, dtype=np.int64
        )
        n_nodes = len(self.node_loc)
        starts = [depot_node[v.start_location] for v in vehicles]
        ends = [depot_node[v.end_location] for v in vehicles]
        self.manager = pywrapcp.RoutingIndexManager(n_nodes, len(vehicles), starts, ends)
        self.model = pywrapcp.RoutingModel(self.manager)
        m, mgr = self.model, self.manager

        secs = int_matrix(p.seconds, ceil=True)[np.ix_(self.node_loc, self.node_loc)]
        metres = int_matrix(p.metres, ceil=False)[np.ix_(self.node_loc, self.node_loc)]
        self.secs, self.metres = secs, metres
        service = np.zeros(n_nodes, dtype=np.int64)
        for k, s in enumerate(ci.plan_stops):
            service[k] = p.stops[s].duration_s
        self.service = service

        base_cost = metres if params.objective == "distance" else secs
        self.base_cost = base_cost
        self._register_costs(base_cost, starts, ends)

        horizon = max(v.shift_end for v in vehicles) + 1
        time_t = np.minimum(secs + service[:, None], UNREACHABLE)
        time_idx = m.RegisterTransitMatrix(time_t.tolist())
        m.AddDimension(time_idx, horizon, horizon, False, "time")
        self.time = m.GetDimensionOrDie("time")
        for vi, v in enumerate(vehicles):
            st, en = self.time.CumulVar(m.Start(vi)), self.time.CumulVar(m.End(vi))
            st.SetRange(v.shift_start, v.shift_end)
            en.SetRange(v.shift_start, v.shift_end)
            m.AddVariableMaximizedByFinalizer(st)
            m.AddVariableMinimizedByFinalizer(en)
        for k, s in enumerate(ci.plan_stops):
            idx = mgr.NodeToIndex(k)
            ivs = ci.starts[k]
            var = self.time.CumulVar(idx)
            var.SetRange(ivs[0][0], ivs[-1][1])
            for (_, a_end), (b_start, _) in itertools.pairwise(ivs):
                if b_start - a_end > 1:
                    var.RemoveInterval(a_end + 1, b_start - 1)
            stop = p.stops[s]
            penalty = ci.required_penalty if stop.required else max(0, int(stop.penalty))
            m.AddDisjunction([idx], penalty)
            allowed = ci.allowed_vehicles[k]
            if len(allowed) < len(vehicles):
                # SetAllowedVehiclesForIndex is not usable from Python (absl::Span binding).
                m.VehicleVar(idx).SetValues([-1, *allowed])

        self._add_breaks(service)
        self._add_capacity()

    def _register_costs(self, base_cost: IntMatrix, starts: list[int], ends: list[int]) -> None:
        """Register arc costs, with reordering penalties when a previous order is given."""
        m = self.model
        prev = self.params.previous_order
        if not prev:
            m.SetArcCostEvaluatorOfAllVehicles(m.RegisterTransitMatrix(base_cost.tolist()))
            return
        stop_node = {self.ci.problem.stops[s].id: k for k, s in enumerate(self.ci.plan_stops)}
        succ = np.full(base_cost.shape[0], -1, dtype=np.int64)
        first: dict[int, int] = {}
        for vi, v in enumerate(self.ci.problem.vehicles):
            order = [stop_node[sid] for sid in prev.get(v.id, []) if sid in stop_node]
            chain = [*order, ends[vi]]
            for a, b in itertools.pairwise(chain):
                succ[a] = b
            first[vi] = chain[0]
        pen = int(self.params.reorder_penalty)
        for vi in range(len(self.ci.problem.vehicles)):
            c = base_cost.copy()
            rows = np.nonzero(succ >= 0)[0]
            c[rows, :] += pen
            c[rows, succ[rows]] -= pen
            c[starts[vi], :] += pen
            c[starts[vi], first[vi]] -= pen
            c = np.minimum(c, UNREACHABLE)
            m.SetArcCostEvaluatorOfVehicle(m.RegisterTransitMatrix(c.tolist()), vi)

    def _add_breaks(self, service: IntMatrix) -> None:
        """Attach each vehicle's breaks as interval variables on the time dimension."""
        m = self.model
        solver = m.solver()
        visit_transit = [int(service[self.manager.IndexToNode(i)]) for i in range(m.Size())]
        self.break_vars: list[list[Any]] = []
        for vi, v in enumerate(self.ci.problem.vehicles):
            ivs = [
                solver.FixedDurationIntervalVar(
                    b.earliest_start, b.latest_start, b.duration, False, f"break_{vi}_{j}"
                )
                for j, b in enumerate(v.breaks)
            ]
            self.break_vars.append(ivs)
            if ivs:
                self.time.SetBreakIntervalsOfVehicle(ivs, vi, visit_transit)

    def _add_capacity(self) -> None:
        """Add a load dimension when any vehicle has a capacity."""
        p = self.ci.problem
        if all(v.capacity is None for v in p.vehicles):
            return
        demand = [p.stops[s].demand for s in self.ci.plan_stops]
        demand += [0] * (len(self.node_loc) - len(demand))
        idx = self.model.RegisterUnaryTransitVector(demand)
        caps = [v.capacity if v.capacity is not None else 2**40 for v in p.vehicles]
        self.model.AddDimensionWithVehicleCapacity(idx, 0, caps, True, "load")

    def search_parameters(
        self, *, phase: str, time_limit_s: float, solution_limit: int | None
    ) -> Any:
        """Search parameters for one phase (``"gls"`` or ``"descent"``)."""
        sp = pywrapcp.DefaultRoutingSearchParameters()
        fs = self.params.first_solution
        if fs == "auto":
            fs = "PARALLEL_CHEAPEST_INSERTION"
        sp.first_solution_strategy = getattr(routing_enums_pb2.FirstSolutionStrategy, fs)
        if phase == "descent":
            sp.local_search_metaheuristic = (
                routing_enums_pb2.LocalSearchMetaheuristic.GREEDY_DESCENT
            )
        else:
            sp.local_search_metaheuristic = (
                routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
            )
        sp.time_limit.FromMilliseconds(max(1, int(time_limit_s * 1000)))
        if solution_limit is not None:
            sp.solution_limit = solution_limit
        return sp

    def routes_to_assignment(self, routes: list[list[int]]) -> Any:
        """Turn routes of node indices per vehicle into an assignment, or ``None``."""
        idx_routes = [[self.manager.NodeToIndex(k) for k in r] for r in routes]
        return self.model.ReadAssignmentFromRoutes(idx_routes, True)

    def solve_phase(
        self,
        *,
        phase: str,
        deadline: float,
        solution_limit: int | None,
        initial: list[list[int]] | None = None,
    ) -> Any:
        """Run one search phase, optionally from an initial route set; return the assignment."""
        remaining = max(0.05, deadline - time.monotonic())
        sp = self.search_parameters(
            phase=phase, time_limit_s=remaining, solution_limit=solution_limit
        )
        start = self.routes_to_assignment(initial) if initial is not None else None
        if start is not None:
            return self.model.SolveFromAssignmentWithParameters(start, sp)
        return self.model.SolveWithParameters(sp)

    def node_routes(self, assignment: Any) -> list[list[int]]:
        """Node sequences (stop positions in ``plan_stops``) per vehicle."""
        m, mgr = self.model, self.manager
        out: list[list[int]] = []
        for vi in range(m.vehicles()):
            r: list[int] = []
            i = m.Start(vi)
            i = assignment.Value(m.NextVar(i))
            while not m.IsEnd(i):
                r.append(mgr.IndexToNode(i))
                i = assignment.Value(m.NextVar(i))
            out.append(r)
        return out

    def cost_of(self, assignment: Any) -> int:
        """Objective value of an assignment."""
        return int(assignment.ObjectiveValue())

    def extract(self, assignment: Any) -> CoreResult:
        """Read routes, times and breaks from an assignment."""
        m = self.model
        planned: set[int] = set()
        routes: list[CoreRoute] = []
        for vi, nodes in enumerate(self.node_routes(assignment)):
            planned.update(nodes)
            starts = [
                int(assignment.Value(self.time.CumulVar(self.manager.NodeToIndex(k))))
                for k in nodes
            ]
            breaks: list[int | None] = []
            container = assignment.IntervalVarContainer()
            by_name = {
                container.Element(j).Var().Name(): container.Element(j)
                for j in range(container.Size())
            }
            for iv in self.break_vars[vi]:
                el = by_name.get(iv.Name())
                breaks.append(
                    int(el.StartValue()) if el is not None and el.PerformedValue() else None
                )
            routes.append(
                CoreRoute(
                    stops=[self.ci.plan_stops[k] for k in nodes],
                    starts=starts,
                    departure=int(assignment.Value(self.time.CumulVar(m.Start(vi)))),
                    end_arrival=int(assignment.Value(self.time.CumulVar(m.End(vi)))),
                    break_starts=breaks,
                )
            )
        unplanned = [s for k, s in enumerate(self.ci.plan_stops) if k not in planned]
        return CoreResult(routes=routes, unplanned=unplanned, objective=self.cost_of(assignment))


__all__ = ["UNREACHABLE", "Core", "CoreInput", "CoreResult", "CoreRoute", "int_matrix"]
