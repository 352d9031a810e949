"""Territory design and realignment: balanced, compact, low-churn.

Public API::

    from routing.territories import design_territories, StraightLineOracle
    plan = design_territories(accounts, reps, StraightLineOracle())
    plan.rep_of["a1"], plan.kpis.workload_max_deviation

Modules: ``model`` (data in/out), ``oracle`` (travel times), ``design`` and ``realign``
(the two entry points), ``kpis`` (what-if figures), ``polygons`` (map outlines),
``synthetic`` (seeded instances), ``baselines`` and ``bounds`` (benchmarks and tests only:
reference partitions, and a certified lower bound on the dispersion of any balanced plan).
Underscored modules are internals.
"""

from routing.territories.design import design_territories
from routing.territories.errors import (
    AccountOffNetworkError,
    InfeasibleBalanceError,
    InvalidTerritoryInputError,
    MissingHomeError,
    TerritoryError,
)
from routing.territories.kpis import compute_kpis
from routing.territories.model import (
    Assignment,
    DesignParams,
    Progress,
    RealignParams,
    TerritoryAccount,
    TerritoryKpis,
    TerritoryRep,
    TerritoryStats,
    account_move_cost,
    workload_hours,
)
from routing.territories.oracle import RoadNetworkOracle, StraightLineOracle, TravelTimeOracle
from routing.territories.polygons import TerritoryPolygon, territory_polygons
from routing.territories.realign import realign_territories
from routing.territories.synthetic import synthetic_instance

__all__ = [
    "AccountOffNetworkError",
    "Assignment",
    "DesignParams",
    "InfeasibleBalanceError",
    "InvalidTerritoryInputError",
    "MissingHomeError",
    "Progress",
    "RealignParams",
    "RoadNetworkOracle",
    "StraightLineOracle",
    "TerritoryAccount",
    "TerritoryError",
    "TerritoryKpis",
    "TerritoryPolygon",
    "TerritoryRep",
    "TerritoryStats",
    "TravelTimeOracle",
    "account_move_cost",
    "compute_kpis",
    "design_territories",
    "realign_territories",
    "synthetic_instance",
    "territory_polygons",
    "workload_hours",
]
