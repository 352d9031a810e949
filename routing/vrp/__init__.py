"""Day and team route solver on OR-Tools, plus the Solomon benchmark reader.

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
