"""Plain data in and out of the territory engine (no solver state, no I/O)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Progress = Callable[[str, float], None]
"""Progress callback: ``(stage, fraction_done)`` with fraction in ``[0, 1]``."""


def workload_hours(
    visits_per_year: float, visit_minutes: float, drive_share_minutes: float
) -> float:
    """Yearly hours an account takes: visits times (time on site + its share of driving).

    Territories are sized by this, not by account counts, so a rural account an hour away
    weighs more than a downtown one with the same cadence.

    Args:
        visits_per_year: Cadence, e.g. 24 for twice a month.
        visit_minutes: Time on site per visit.
        drive_share_minutes: The share of driving attributed to one visit (e.g. half the
            average leg between consecutive stops).

    Returns:
        Hours per year.

    Example:
        >>> workload_hours(12, 45, 15)
        12.0
    """
    if visits_per_year < 0 or visit_minutes < 0 or drive_share_minutes < 0:
        raise ValueError("cadence and durations must be non-negative")
    return visits_per_year * (visit_minutes + drive_share_minutes) / 60.0


def account_move_cost(
    open_pipeline: bool = False, tenure_years: float = 0.0, base: float = 1.0
) -> float:
    """A suggested ``move_cost`` multiplier: protect accounts with open deals or long tenure.

    An open pipeline triples the cost (a deal changing hands mid-flight is the costliest churn);
    each year of tenure with the current rep adds 20 %, capped at +200 %.
    """
    tenure = min(max(tenure_years, 0.0) * 0.2, 2.0)
    return base * (3.0 if open_pipeline else 1.0) * (1.0 + tenure)


@dataclass(frozen=True, slots=True)
class TerritoryAccount:
    """One account to place in a territory.

    Attributes:
        id: Stable account id.
        lat: Latitude in degrees.
        lon: Longitude in degrees.
        workload_hours: Hours per period it takes (see :func:`workload_hours`).
        potential: Revenue potential per period (balanced within a wider tolerance).
        locked_rep: When set, the account stays with this rep whatever the optimizer prefers.
        move_cost: Realignment churn multiplier (1 = normal; see :func:`account_move_cost`).
        visits_per_year: Optional cadence, used only for the weekly drive-hours KPI; when
            missing, one visit per workload hour is assumed.
    """

    id: str
    lat: float
    lon: float
    workload_hours: float
    potential: float = 0.0
    locked_rep: str | None = None
    move_cost: float = 1.0
    visits_per_year: float | None = None


@dataclass(frozen=True, slots=True)
class TerritoryRep:
    """A rep who owns one territory.

    Attributes:
        id: Stable rep id.
        lat: Home-base latitude (``None`` is rejected: every territory needs an anchor).
        lon: Home-base longitude.
        locked: A locked territory keeps exactly its current (or ``locked_rep``) accounts and
            is left out of the balance: nothing moves in or out of it.
    """

    id: str
    lat: float | None
    lon: float | None
    locked: bool = False


@dataclass(frozen=True, slots=True)
class DesignParams:
    """Settings of a from-scratch design.

    Attributes:
        tolerance: Hard bound on every territory's relative workload deviation from the mean.
            Guaranteed after integer repair, or :class:`InfeasibleBalanceError` is raised.
        potential_tolerance: Bound on potential deviation; pursued by workload-neutral swaps
            and reported in the KPIs (best effort, see ``Assignment.potential_ok``).
        seed: Accepted for API stability; the design is currently fully deterministic (same
            input, same plan) and does not use it.
        target_tolerance: What the optimizer aims for inside ``tolerance`` so that rounding
            and later small edits do not immediately break the hard bound. Default:
            ``0.6 * tolerance``.
        k_nearest: Candidate territories per account in the flow model (arcs = n * k).
        max_iterations: Location-allocation rounds (centres move to their territory's
            workload-weighted centroid between rounds).
        anchor: ``"centre"`` measures dispersion from the territory's centre and lets the
            centre move; ``"home"`` pins every territory at its rep's home base.
        starts: Location-allocation runs from differently oriented bisection seeds; the
            most compact finished plan is kept. ``None``: five up to 2,000 accounts, three
            up to 20,000, else one.
    """

    tolerance: float = 0.05
    potential_tolerance: float = 0.10
    seed: int = 0
    target_tolerance: float | None = None
    k_nearest: int = 10
    max_iterations: int = 10
    anchor: Literal["centre", "home"] = "centre"
    starts: int | None = None

    def aim(self) -> float:
        """The internal target tolerance (see ``target_tolerance``)."""
        if self.target_tolerance is not None:
            return min(self.target_tolerance, self.tolerance)
        return 0.6 * self.tolerance


@dataclass(frozen=True, slots=True)
class RealignParams:
    """Settings of a realignment from the active plan.

    Attributes:
        tolerance: Hard workload bound, as in :class:`DesignParams`.
        potential_tolerance: As in :class:`DesignParams`.
        max_moved_share: Most accounts (share of accounts that keep a present rep) that may
            change rep. Accounts orphaned by a leaving rep and new accounts do not count.
        max_moved_per_rep: Most accounts one rep may gain plus lose (``None`` = no limit).
        move_penalty_seconds: Drive seconds (per workload hour) one unit of ``move_cost``
            is worth; large so that the plan only moves what balance requires.
        k_nearest: Candidate territories per account in the flow model.
        seed: Accepted for API stability; realignment is deterministic and does not use it.
    """

    tolerance: float = 0.05
    potential_tolerance: float = 0.10
    max_moved_share: float = 0.10
    max_moved_per_rep: int | None = None
    move_penalty_seconds: float = 3600.0
    k_nearest: int = 10
    seed: int = 0


@dataclass(frozen=True, slots=True)
class TerritoryStats:
    """Per-territory figures (one row of the what-if comparison)."""

    rep_id: str
    accounts: int
    workload_hours: float
    workload_deviation: float
    potential: float
    potential_deviation: float
    dispersion_seconds: float
    weekly_drive_hours: float


@dataclass(frozen=True, slots=True)
class TerritoryKpis:
    """What a planner compares between alignments.

    Attributes:
        workload_max_deviation: max |load / mean - 1| over balanced (unlocked) territories.
        workload_ratio: max load / min load.
        workload_cv: Coefficient of variation of loads.
        potential_max_deviation: As above for potential.
        potential_ratio: As above for potential.
        potential_cv: As above for potential.
        dispersion_seconds: Workload-weighted mean drive seconds from the territory centre.
        home_dispersion_seconds: Same from the rep's home (``None`` if a home is missing).
        weekly_drive_hours: Estimated drive hours per week summed over reps (home to territory
            twice a day plus a Beardwood-Halton-Hammersley tour estimate inside it).
        accounts_moved: Accounts whose rep changed (0 for a fresh design).
        workload_moved_hours: Their workload.
        contiguity: Share of accounts whose 8 nearest neighbours mostly share their territory.
        fragments: Extra connected pieces over all territories in the 6-nearest-neighbour
            graph (0 = every territory is one piece).
        hull_overlap: Sum of pairwise convex-hull intersection areas / sum of hull areas.
        territories: Per-territory rows.
    """

    workload_max_deviation: float
    workload_ratio: float
    workload_cv: float
    potential_max_deviation: float
    potential_ratio: float
    potential_cv: float
    dispersion_seconds: float
    home_dispersion_seconds: float | None
    weekly_drive_hours: float
    accounts_moved: int
    workload_moved_hours: float
    contiguity: float
    fragments: int
    hull_overlap: float
    territories: list[TerritoryStats] = field(default_factory=list)


@dataclass(slots=True)
class Assignment:
    """The result: which rep owns which account, with KPIs.

    Attributes:
        rep_of: ``account_id -> rep_id`` for every account.
        kpis: Figures of this plan (``None`` only inside the engine before they are computed).
        moved: Accounts whose rep changed against the current plan (realignment only),
            including accounts orphaned by a leaving rep; new accounts are not moves.
        potential_ok: Whether every territory's potential is within its tolerance.
        centres: ``rep_id -> (lat, lon)`` of each territory's centre.
        notes: Human-readable remarks (e.g. why potential could not be balanced).
    """

    rep_of: dict[str, str]
    kpis: TerritoryKpis | None = None
    moved: list[str] = field(default_factory=list)
    potential_ok: bool = True
    centres: dict[str, tuple[float, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


__all__ = [
    "Assignment",
    "DesignParams",
    "Progress",
    "RealignParams",
    "TerritoryAccount",
    "TerritoryKpis",
    "TerritoryRep",
    "TerritoryStats",
    "account_move_cost",
    "workload_hours",
]
