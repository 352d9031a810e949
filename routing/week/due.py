"""Cadence and spacing rules: when an account's next visit may come and when it is due.

A visit is *due* ``cadence_days`` after the previous one and *allowed* from
``ceil(share * cadence_days)`` days after it (``share`` = :attr:`WeekProblem.spacing_share`,
0.7 by default): visiting earlier would waste a visit, later lets the account go overdue.
An account never visited is due and allowed at once. Several visits inside one horizon follow
the same rule from one visit to the next, so two visits never fall on the same day.

Example:
    >>> import datetime as dt
    >>> window = next_window(dt.date(2026, 12, 1), cadence_days=10, share=0.7)
    >>> window.earliest, window.due
    (datetime.date(2026, 12, 8), datetime.date(2026, 12, 11))
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VisitWindow:
    """Dates between which the next visit should happen.

    Attributes:
        earliest: First allowed date (spacing after the previous visit).
        due: Date the cadence falls due; after it the visit is late.
    """

    earliest: dt.date
    due: dt.date


def min_gap_days(cadence_days: int, share: float) -> int:
    """Fewest days between two visits: the share of the cadence, at least one day."""
    return max(1, math.ceil(share * cadence_days - 1e-9))


def next_window(previous: dt.date | None, cadence_days: int, share: float) -> VisitWindow:
    """The window of the visit after ``previous`` (``None``: never visited, due at once)."""
    if previous is None:
        return VisitWindow(dt.date.min, dt.date.min)
    return VisitWindow(
        previous + dt.timedelta(days=min_gap_days(cadence_days, share)),
        previous + dt.timedelta(days=cadence_days),
    )


def days_late(day: dt.date, due: dt.date, horizon_start: dt.date) -> int:
    """Days a visit on ``day`` comes after it could have come once due.

    An account already overdue when the horizon starts is late from the horizon's first day.
    """
    return max(0, (day - max(due, horizon_start)).days)


__all__ = ["VisitWindow", "days_late", "min_gap_days", "next_window"]
