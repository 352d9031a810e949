"""Why a due visit waits, in words a rep reads ("due Thursday 10 Dec, the week is full: ...")."""

from __future__ import annotations

import datetime as dt

from routing.week.horizon import WEEKDAY_NAMES
from routing.week.model import Unscheduled
from routing.week.state import State


def due_text(due: dt.date, start: dt.date) -> str:
    """ "due Thursday 10 Dec" or "overdue since 02 Dec"."""
    if due < start:
        return f"overdue since {due:%d %b}"
    return f"due {WEEKDAY_NAMES[due.weekday()]} {due:%d %b}"


def _span(state: State, first: int, last: int) -> str:
    days = state.inst.days
    a, b = days[first].date, days[last].date
    if first == last:
        return f"{WEEKDAY_NAMES[a.weekday()]} {a:%d %b}"
    return (
        f"{WEEKDAY_NAMES[a.weekday()][:3]} {a:%d %b} - {WEEKDAY_NAMES[b.weekday()][:3]} {b:%d %b}"
    )


def explain(state: State, v: int, demand_s: int, capacity_s: int) -> Unscheduled:
    """The reason visit ``v`` waits.

    Args:
        state: The final search state.
        v: A visit that is not planned.
        demand_s: Seconds of visits (all due visits) plus the plan's driving.
        capacity_s: Seconds of shifts over the horizon, breaks taken off.
    """
    inst = state.inst
    visit = state.visits[v]
    acc = inst.problem.accounts[visit.account]
    due = dt.date.fromordinal(visit.due_date_ordinal)
    when = due_text(due, inst.days[0].date)
    if acc.id in inst.unreachable:
        return Unscheduled(acc.id, due, "unreachable", f"{when}, {inst.unreachable[acc.id]}")
    if visit.fixed_day is not None:
        return Unscheduled(
            acc.id, due, "full", f"appointment {visit.appointment_id} cannot be reached in time"
        )
    span = range(visit.earliest, visit.latest + 1)
    working = [d for d in span if not inst.days[d].off]
    if not working:
        return Unscheduled(
            acc.id,
            due,
            "absent",
            f"{when}, the rep is away on every day it may be visited "
            f"({_span(state, visit.earliest, visit.latest)})",
        )
    if not any(inst.windows[visit.account][d] for d in working):
        if visit.earliest == 0 and visit.latest == len(inst.days) - 1:
            where = "closed on every planned day"
        else:
            where = (
                "closed on every day it may be visited "
                f"({_span(state, visit.earliest, visit.latest)})"
            )
        return Unscheduled(acc.id, due, "closed", f"{when}, {where}")
    if demand_s > capacity_s:
        return Unscheduled(
            acc.id,
            due,
            "full",
            f"{when}, the week is full: {demand_s / 3600:.0f} h of visits and driving for "
            f"{capacity_s / 3600:.0f} h of shifts",
        )
    return Unscheduled(
        acc.id,
        due,
        "full",
        f"{when}, no room on the days it may be visited "
        f"({_span(state, visit.earliest, visit.latest)}) within its opening hours; "
        "the visits planned then have a higher priority",
    )


def spacing_reason(state: State, account: int, due: dt.date) -> Unscheduled:
    """A visit the spacing rule leaves no day for."""
    acc = state.inst.problem.accounts[account]
    return Unscheduled(
        acc.id,
        due,
        "no_day",
        f"{due_text(due, state.inst.days[0].date)}, but the spacing after its last visit and "
        "before its appointment leaves no day for it",
    )


__all__ = ["due_text", "explain", "spacing_reason"]
