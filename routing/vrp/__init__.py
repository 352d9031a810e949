"""Day and team route solver (PyVRP's search, OR-Tools where needed), plus Solomon benchmarks.

One model (:func:`routing.vrp.validate.prepare`) and one set of drop reasons; the search runs
on PyVRP (:mod:`routing.vrp.pyvrp_engine`) with breaks re-timed exactly
(:mod:`routing.vrp.schedule`) and every plan verified (:func:`routing.vrp.validate.check_plan`),
or on the OR-Tools model (:mod:`routing.vrp.engine`) for re-planning with a previous order, for
break windows shorter than a drive, and whenever a PyVRP plan fails verification.

Public API (plain dataclasses in and out; nothing from :mod:`backend`):

* Build a :class:`DayProblem` (matrices in seconds and metres, :class:`Vehicle` s with shifts
  and :class:`Break` s, :class:`Stop` s with :class:`TimeWindow` s, required or with a drop
  penalty) and call :func:`solve` to get a :class:`DaySolution`.
* :func:`replan` re-optimizes during the day from current positions, keeping the previous order
  where that costs little.
* :func:`windows_from_opening_hours` turns an OSM ``opening_hours`` tag into windows for a date.
* :func:`read_solomon` / :func:`solve_solomon` run the same core on Solomon VRPTW instances.
"""

from routing.vrp.model import (
    Break,
    BreakTaken,
    DayProblem,
    DaySolution,
    DroppedStop,
    InfeasibleProblemError,
    Issue,
    Route,
    RouteStop,
    SolveParams,
    Stop,
    TimeWindow,
    Vehicle,
)
from routing.vrp.opening_hours import OpeningHoursWindows, windows_from_opening_hours
from routing.vrp.solomon import (
    BestKnown,
    SolomonInstance,
    SolomonResult,
    check_routes,
    dimacs_cost,
    read_best_known,
    read_solomon,
    read_solution,
    route_set_distance,
    solve_solomon,
    to_day_problem,
)
from routing.vrp.solve import VehicleProgress, replan, solve

__all__ = [
    "BestKnown",
    "Break",
    "BreakTaken",
    "DayProblem",
    "DaySolution",
    "DroppedStop",
    "InfeasibleProblemError",
    "Issue",
    "OpeningHoursWindows",
    "Route",
    "RouteStop",
    "SolomonInstance",
    "SolomonResult",
    "SolveParams",
    "Stop",
    "TimeWindow",
    "Vehicle",
    "VehicleProgress",
    "check_routes",
    "dimacs_cost",
    "read_best_known",
    "read_solomon",
    "read_solution",
    "replan",
    "route_set_distance",
    "solve",
    "solve_solomon",
    "to_day_problem",
    "windows_from_opening_hours",
]
