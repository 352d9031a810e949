"""How well a plan meets the cadences: due visits, visits made, and made on time.

The same measure is applied to the week planner and the daily baseline. Walking each
account's cadence from its last visit: a visit is *due* when ``last + cadence`` falls inside
the horizon; it is *made* when the plan visits the account after that previous visit (the next
due date then counts from the visit made); it is *on time* when that visit is on or before the
due date (an account already overdue when the horizon starts counts on time on the first day).
"""

from __future__ import annotations

from dataclasses import dataclass

from routing.week.due import next_window
from routing.week.model import WeekPlan, WeekProblem


@dataclass(frozen=True, slots=True)
class Coverage:
    """Cadence figures of one plan."""

    due: int
    made: int
    on_time: int
    spread: float
    """Longest day's hours over the shortest worked day's (inf when a working day is empty)."""


def coverage(problem: WeekProblem, plan: WeekPlan) -> Coverage:
    """Due, made and on-time visits of ``plan`` (see the module docstring), and load spread."""
    visits = plan.visit_days()
    worked = [d for d in plan.days if not d.off]
    start = worked[0].date if worked else problem.start
    end = plan.days[-1].date if plan.days else problem.start
    due = made = on_time = 0
    for acc in problem.accounts:
        anchor = acc.last_visit
        days = sorted(visits.get(acc.id, []))
        while True:
            window = next_window(anchor, acc.cadence_days, problem.spacing_share)
            due_date = max(window.due, start) if anchor is not None else start
            if due_date > end:
                break
            due += 1
            after = [d for d in days if anchor is None or d > anchor]
            if not after:
                break
            made += 1
            on_time += after[0] <= due_date
            anchor = after[0]
    hours = [d.hours_s for d in worked]
    spread = max(hours) / min(hours) if hours and min(hours) > 0 else float("inf")
    if not hours or not max(hours):
        spread = 0.0
    return Coverage(due, made, on_time, spread)


__all__ = ["Coverage", "coverage"]
