"""Plain data in and out of the route solver.

Everything here is a frozen dataclass of built-in types (plus numpy matrices in
:class:`DayProblem`), so a problem can be built in a web request, pickled to a worker process,
or written by hand in a notebook. Times are integer seconds since the plan day's local midnight;
matrices are indexed by *location* (``0..n-1``), so several stops may share a location and a
vehicle may start anywhere (home, office, or the rep's current GPS position snapped to a node).

Example:
    >>> import numpy as np
    >>> secs = np.array([[0, 600], [600, 0]])
    >>> problem = DayProblem(
    ...     seconds=secs,
    ...     metres=secs * 10,
    ...     vehicles=[Vehicle("rep", 0, 0, 8 * 3600, 17 * 3600)],
    ...     stops=[Stop("acme", 1, 1800)],
    ... )
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.floating] | npt.NDArray[np.integer]
"""A square travel matrix (seconds or metres); ``inf``/``nan``/negative means "no road"."""

ReasonCode = Literal[
    "closed",
    "no_window",
    "unreachable",
    "outside_shift",
    "too_long",
    "over_capacity",
    "no_vehicle",
    "low_priority",
    "infeasible_together",
]
"""Why a stop was dropped or why a problem is infeasible (stable codes for API clients)."""


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """An interval in which a whole visit must take place (start and end of service inside it).

    Solomon's windows bound only the *start* of service; :func:`routing.vrp.read_solomon`
    converts them by adding the service time to the end, so one convention holds in the core.
    """

    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Break:
    """A break (lunch) of ``duration`` seconds starting in ``[earliest_start, latest_start]``.

    The break happens while driving or waiting between visits, never during a visit.
    """

    earliest_start: int
    latest_start: int
    duration: int


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A rep (or a van) with a route from ``start_location`` to ``end_location``.

    For re-planning during the day, ``start_location`` is the current position and
    ``shift_start`` the current time: the route then starts there and then.

    Attributes:
        id: Caller's identifier, used as the key of :attr:`DaySolution.routes`.
        start_location: Matrix index where the route starts.
        end_location: Matrix index where the route must end.
        shift_start: Earliest departure (seconds since midnight).
        shift_end: Latest arrival at ``end_location``.
        breaks: Breaks to take inside the shift.
        capacity: Load limit in the same unit as :attr:`Stop.demand`; ``None`` means unlimited.
    """

    id: str
    start_location: int
    end_location: int
    shift_start: int
    shift_end: int
    breaks: tuple[Break, ...] | list[Break] = ()
    capacity: int | None = None


@dataclass(frozen=True, slots=True)
class Stop:
    """A visit at one location.

    Attributes:
        id: Caller's identifier (account or appointment id).
        location: Matrix index.
        duration_s: Time on site.
        windows: Visit windows; ``None`` means "any time during the shift". An *empty* list
            means closed all day (for example from opening hours): the stop cannot be visited.
        required: Must-visit (an appointment). If it cannot be planned, :func:`solve` raises
            :class:`InfeasibleProblemError` naming it instead of silently dropping it.
        penalty: For optional stops, the cost of not visiting, in objective units (seconds of
            driving by default): the stop is planned when the detour costs less than this.
        demand: Load taken by the visit (capacity dimension).
        fixed_vehicle: Restrict the stop to this vehicle id.
        hours_note: Human note about the windows (from :func:`windows_from_opening_hours`),
            used in drop reasons such as "closed on Mondays".
        hours_known: ``False`` when the windows are a guess (unknown opening hours); the plan
            then lists the stop in :attr:`DaySolution.notes`.
        label: What people call the stop (an account's name), for notes meant to be read;
            ``None`` uses :attr:`id`.
    """

    id: str
    location: int
    duration_s: int = 0
    windows: tuple[TimeWindow, ...] | list[TimeWindow] | None = None
    required: bool = False
    penalty: int = 0
    demand: int = 0
    fixed_vehicle: str | None = None
    hours_note: str | None = None
    hours_known: bool = True
    label: str | None = None


@dataclass(frozen=True, slots=True)
class DayProblem:
    """One day (or one re-planning moment) of one or many vehicles.

    Attributes:
        seconds: Travel time matrix (seconds), square, indexed by location.
        metres: Distance matrix (metres), same shape.
        vehicles: The vehicles available.
        stops: Candidate visits, required and optional.
    """

    seconds: Matrix
    metres: Matrix
    vehicles: list[Vehicle]
    stops: list[Stop]


@dataclass(frozen=True, slots=True)
class SolveParams:
    """How hard and how to search.

    The day planner must be deterministic, so by default the search stops after a fixed amount
    of work (``solution_limit`` per phase, ``lns_iterations`` restarts) and ``time_limit_s`` is
    only a safety net. Set ``solution_limit=None`` to search until the time limit (benchmarks);
    the result then depends on machine speed.

    Attributes:
        time_limit_s: Wall-clock cap for the whole solve (all phases).
        lns_iterations: Number of ruin-and-recreate improvement phases after the first search.
        solution_limit: Solutions the guided local search may visit per phase; ``None`` =
            unlimited (time-limited, not reproducible across machines).
        seed: Seed of the improvement layer's random choices.
        previous_order: ``{vehicle_id: [stop_id, ...]}`` of the plan being revised. It is the
            starting solution, and leaving a stop's previous successor costs
            ``reorder_penalty`` so untouched stops keep their order unless that saves more.
        reorder_penalty: Cost (objective units) of changing one successor of ``previous_order``.
        objective: ``"duration"`` minimises travel seconds, ``"distance"`` travel metres.
        first_solution: OR-Tools first-solution strategy name, or ``"auto"``
            (parallel cheapest insertion, which respects windows while building).
        gls_share: When time-limited (``solution_limit=None``), the share of the time given
            to guided local search; ruin-and-recreate gets the rest (it finds more on long,
            wide-window routes, where guided local search stalls).
        engine: ``"auto"`` searches with PyVRP's iterated local search and falls back to the
            OR-Tools model where PyVRP cannot express the problem exactly (a previous order
            to keep, a break window shorter than a drive) or its plan fails verification;
            ``"pyvrp"`` / ``"ortools"`` force one engine (``"pyvrp"`` still falls back when
            its plan fails verification, so a plan is never wrong).
        iterations: PyVRP iterations when work-limited (``solution_limit`` not ``None``);
            ``None`` scales them with the number of candidate visits, and down in proportion
            to a ``solution_limit`` below the default (see
            :func:`routing.vrp.pyvrp_engine.scaled_iterations`).
    """

    time_limit_s: float = 10.0
    lns_iterations: int = 10
    solution_limit: int | None = 300
    seed: int = 0
    previous_order: dict[str, list[str]] | None = None
    reorder_penalty: int = 120
    objective: Literal["duration", "distance"] = "duration"
    first_solution: str = "auto"
    gls_share: float = 0.2
    engine: Literal["auto", "pyvrp", "ortools"] = "auto"
    iterations: int | None = None


@dataclass(frozen=True, slots=True)
class BreakTaken:
    """A break as planned: when it starts and how long it lasts."""

    start: int
    duration: int


@dataclass(frozen=True, slots=True)
class RouteStop:
    """One visit in a planned route.

    ``arrival`` is when the rep gets there (after driving and any break taken on the way),
    ``wait`` the idle time until the window opens, ``start``/``end`` the visit itself, and
    ``leg_seconds``/``leg_metres`` the drive from the previous point.
    """

    stop_id: str
    location: int
    arrival: int
    wait: int
    start: int
    end: int
    leg_seconds: int
    leg_metres: float
    break_before: BreakTaken | None = None


@dataclass(frozen=True, slots=True)
class Route:
    """The plan of one vehicle: departure, visits, breaks, and return."""

    vehicle_id: str
    departure: int
    stops: list[RouteStop]
    end_arrival: int
    end_leg_seconds: int
    end_leg_metres: float
    breaks: list[BreakTaken]
    drive_seconds: int
    drive_metres: float


@dataclass(frozen=True, slots=True)
class DroppedStop:
    """An optional stop that is not in the plan, and why (``reason`` is for people)."""

    stop_id: str
    reason_code: ReasonCode
    reason: str


@dataclass(frozen=True, slots=True)
class Issue:
    """One reason why a problem cannot be planned as asked (a stop, a vehicle, or both)."""

    code: str
    message: str
    stop_id: str | None = None
    vehicle_id: str | None = None


@dataclass(frozen=True, slots=True)
class DaySolution:
    """The result of :func:`routing.vrp.solve`.

    Attributes:
        routes: Per vehicle id, the route (vehicles without visits have an empty ``stops``).
        dropped: Optional stops not planned, each with a reason.
        notes: Plan-level remarks, e.g. "opening hours unknown for X: assumed open".
        objective: Solver objective (scaled integer) of the returned plan.
        total_seconds: Driving seconds over all routes.
        total_metres: Driving metres over all routes (floating point, from the matrix).
        vehicles_used: Routes with at least one visit.
        engine: The search engine whose plan this is (``"pyvrp"`` or ``"ortools"``).
    """

    routes: dict[str, Route]
    dropped: list[DroppedStop]
    notes: list[str] = field(default_factory=list)
    objective: int = 0
    total_seconds: int = 0
    total_metres: float = 0.0
    vehicles_used: int = 0
    engine: str = "ortools"


class InfeasibleProblemError(ValueError):
    """The problem cannot be planned as given; :attr:`issues` says which stop or vehicle and why.

    Attributes:
        issues: Specific problems, each naming a stop and/or a vehicle.
        partial: The best plan found without the offending required stops, when one was
            computed (so a UI can still show something useful).
    """

    def __init__(self, issues: list[Issue], partial: DaySolution | None = None) -> None:
        self.issues = issues
        self.partial = partial
        super().__init__("; ".join(i.message for i in issues))


__all__ = [
    "Break",
    "BreakTaken",
    "DayProblem",
    "DaySolution",
    "DroppedStop",
    "InfeasibleProblemError",
    "Issue",
    "Matrix",
    "ReasonCode",
    "Route",
    "RouteStop",
    "SolveParams",
    "Stop",
    "TimeWindow",
    "Vehicle",
]
