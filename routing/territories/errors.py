"""Typed failures of territory design and realignment, each carrying what a caller must show."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from routing.territories.model import Assignment


class TerritoryError(Exception):
    """Base class: every failure of the territory engine derives from it."""


class InvalidTerritoryInputError(TerritoryError, ValueError):
    """The input cannot describe a territory plan (e.g. fewer accounts than reps, unknown rep).

    Attributes:
        reason: A short machine-readable code such as ``"too_few_accounts"``.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class MissingHomeError(InvalidTerritoryInputError):
    """A rep has no home base, so no territory can be matched to (or anchored at) them."""

    def __init__(self, rep_id: str) -> None:
        super().__init__("missing_home", f"rep {rep_id!r} has no home base (lat/lon missing)")
        self.rep_id = rep_id


class AccountOffNetworkError(TerritoryError):
    """An account (or home base) cannot be placed on the road network.

    Attributes:
        point_id: The account or rep id (or the row index when the oracle only saw points).
        detail: The message of the underlying snapping error.
    """

    def __init__(self, point_id: str, detail: str) -> None:
        super().__init__(f"{point_id} is off the road network: {detail}")
        self.point_id = point_id
        self.detail = detail


class InfeasibleBalanceError(TerritoryError):
    """No assignment the engine can find meets the workload tolerance (or move limits).

    Attributes:
        territory: The rep id of the territory furthest outside the tolerance.
        deviation: Its relative deviation from the mean workload (e.g. ``0.083`` = +8.3 %).
        closest_plan: The best plan found, so a caller can still show or accept it.
    """

    def __init__(
        self, territory: str, deviation: float, closest_plan: Assignment, reason: str = ""
    ) -> None:
        why = f" ({reason})" if reason else ""
        super().__init__(
            f"territory {territory!r} is {deviation:+.1%} from the mean workload; "
            f"the tolerance cannot be met{why}"
        )
        self.territory = territory
        self.deviation = deviation
        self.closest_plan = closest_plan
        self.reason = reason


__all__ = [
    "AccountOffNetworkError",
    "InfeasibleBalanceError",
    "InvalidTerritoryInputError",
    "MissingHomeError",
    "TerritoryError",
]
