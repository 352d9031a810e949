"""The one place the day planner reads account priority from (the account list uses the same).

INTERIM: replaced by backend.services.priority when it lands.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from backend.db.models import Account


@dataclass(frozen=True, slots=True)
class PriorityScore:
    """A score with its reasons and the drop penalty it implies for the route solver."""

    score: float
    penalty: int
    reasons: list[str] = field(default_factory=list)


def score_for_plan(
    accounts: Sequence[Account], now: dt.datetime, weights: dict[str, Any] | None
) -> dict[int, PriorityScore]:
    """Scores keyed by account id."""
    out = {}
    for a in accounts:
        last = a.last_visit_at
        days = (now - last).days if last else a.visit_cadence_days * 2
        overdue = days / max(a.visit_cadence_days, 1)
        score = 50 * min(overdue, 3) + a.potential / 10000
        out[a.id] = PriorityScore(score, int(score * 60), [f"{days} days since last visit"])
    return out
