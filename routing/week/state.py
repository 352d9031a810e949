"""The search state shared by assignment and improvement: visits, day routes, and the cost.

The objective, in seconds of driving so every term is comparable:

* drive time over the horizon;
* lateness: ``late_per_day * (0.5 + priority / 100)`` per day a visit comes after it could
  have come once due (as soon as possible once due);
* earliness: ``early_per_day`` per day before the due date (allowed by the spacing rule, but
  a visit too early shortens the cycle);
* balance: ``balance * excess² / shift`` per day, where ``excess`` is the day's load beyond
  half its shift: a light week stays "as soon as possible", a full one evens out (two days at
  75 % cost less than one full and one at half);
* churn (re-plans only): ``churn`` per visit on a day the previous plan did not have it.

Visits not yet due but allowed by the spacing rule are added where the detour costs less
than ``fill_detour_s * (0.5 + priority / 100)`` (see :mod:`routing.week.fill`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from routing.week.due import days_late, min_gap_days, next_window
from routing.week.instance import Instance
from routing.week.routes import DayRoute, RouteModel, Visit

BALANCE_FREE_SHARE = 0.5
"""Share of a shift a day may be loaded before the balance term counts."""


@dataclass(frozen=True, slots=True)
class Weights:
    """Weights of the objective's terms (see the module docstring)."""

    late_per_day: float = 200.0
    early_per_day: float = 20.0
    balance: float = 1.0
    churn: float = 900.0
    fill_detour_s: float = 900.0


@dataclass(slots=True)
class State:
    """Visits (growing as chains spawn), their days, and every day's route."""

    inst: Instance
    weights: Weights
    visits: list[Visit] = field(default_factory=list)
    routes: list[DayRoute] = field(default_factory=list)
    day_of: dict[int, int] = field(default_factory=dict)
    failed: list[int] = field(default_factory=list)
    no_day: list[tuple[int, dt.date, str]] = field(default_factory=list)
    preferred: dict[int, set[int]] = field(default_factory=dict)
    locked: set[int] = field(default_factory=set)
    frozen: set[int] = field(default_factory=set)
    model: RouteModel = field(init=False)
    of_account: dict[int, set[int]] = field(default_factory=dict)
    fixed_dates: dict[int, list[dt.date]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.model = RouteModel(self.inst, self.visits)
        if not self.routes:
            self.routes = [self.empty(d) for d in range(len(self.inst.days))]

    def empty(self, day: int) -> DayRoute:
        """A day without visits (its finish includes the drive home from an office start)."""
        route = self.model.rebuild(day, [])
        wd = self.inst.days[day]
        return route if route is not None else DayRoute(day, [], 0, wd.shift_start)

    # -- costs -------------------------------------------------------------------------------

    def placement(self, v: int, day: int) -> float:
        """Lateness, earliness and churn of visit ``v`` on ``day``."""
        visit = self.visits[v]
        if visit.fixed_day is not None:
            return 0.0
        inst = self.inst
        date = inst.days[day].date
        due = dt.date.fromordinal(visit.due_date_ordinal)
        prio = inst.problem.accounts[visit.account].priority
        w = self.weights
        cost = (
            w.late_per_day * (0.5 + max(0.0, prio) / 100) * days_late(date, due, inst.days[0].date)
        )
        cost += w.early_per_day * max(0, (due - date).days)
        pref = self.preferred.get(visit.account)
        if pref is not None and day not in pref:
            cost += w.churn
        return cost

    def balance(self, route: DayRoute) -> float:
        """Balance term of one day."""
        wd = self.inst.days[route.day]
        if not route.seq or wd.off:
            return 0.0
        span = max(1, wd.shift_end - wd.shift_start)
        over = max(0, route.finish - wd.shift_start - BALANCE_FREE_SHARE * span)
        return self.weights.balance * over * over / span

    def day_cost(self, route: DayRoute) -> float:
        """Drive plus balance of one day."""
        return route.drive + self.balance(route)

    # -- rules -------------------------------------------------------------------------------

    def allowed(self, v: int, day: int) -> bool:
        """May visit ``v`` go on ``day`` (window of the chain, open, spacing to its siblings)?"""
        visit = self.visits[v]
        if visit.fixed_day is not None:
            return day == visit.fixed_day
        inst = self.inst
        if not visit.earliest <= day <= visit.latest or inst.days[day].off or day in self.locked:
            return False
        if day in self.frozen and self.day_of.get(v) != day:
            return False
        if not inst.windows[visit.account][day]:
            return False
        acc = inst.problem.accounts[visit.account]
        gap = min_gap_days(acc.cadence_days, inst.problem.spacing_share)
        date = inst.days[day].date
        for other in self.of_account.get(visit.account, ()):
            o, d = self.visits[other], self.day_of[other]
            apart = abs((inst.days[d].date - date).days)
            if other != v and apart < (gap if o.fixed_day is None else 1):
                return False
        return True

    def place(self, v: int, route: DayRoute) -> None:
        """Record ``route`` (which contains ``v``) as its day's route."""
        self.routes[route.day] = route
        self.day_of[v] = route.day
        self.of_account.setdefault(self.visits[v].account, set()).add(v)

    def forget(self, v: int) -> int:
        """Drop ``v``'s day (the caller replaces the day's route); return that day."""
        self.of_account[self.visits[v].account].discard(v)
        return self.day_of.pop(v)

    def unplace(self, v: int) -> None:
        """Take ``v`` off its day."""
        day = self.forget(v)
        self.routes[day] = self.model.remove(self.routes[day], v)

    # -- chains ------------------------------------------------------------------------------

    def add_visit(self, **kwargs: int | str | None) -> int:
        """Append a visit (index assigned here)."""
        v = Visit(index=len(self.visits), **kwargs)  # type: ignore[arg-type]
        self.visits.append(v)
        return v.index

    def spawn(self, account: int, anchor: dt.date | None, number: int) -> int | None:
        """The account's next visit after ``anchor`` when it falls due inside the horizon.

        Appointments count as visits: an appointment before the due date is the next visit;
        a later one bounds the free visit before it by the spacing rule.
        """
        inst = self.inst
        acc = inst.problem.accounts[account]
        share = inst.problem.spacing_share
        gap = dt.timedelta(days=min_gap_days(acc.cadence_days, share))
        end = inst.days[-1].date
        appointment_dates = sorted(self.fixed_dates.get(account, []))
        while True:
            window = next_window(anchor, acc.cadence_days, share)
            nxt = next((x for x in appointment_dates if anchor is None or x > anchor), None)
            if window.due > end and (nxt is None or window.due >= nxt):
                return None
            if nxt is not None and nxt <= window.due:
                anchor, number = nxt, number + 1
                continue
            first = next((i for i, d in enumerate(inst.days) if d.date >= window.earliest), None)
            bound = nxt - gap if nxt is not None else end
            last = max((i for i, d in enumerate(inst.days) if d.date <= bound), default=-1)
            if first is None or last < first:
                if nxt is None:
                    due = max(window.due, inst.days[0].date)
                    self.no_day.append((account, due, "spacing"))
                    return None
                anchor, number = nxt, number + 1
                continue
            return self.add_visit(
                account=account,
                number=number,
                earliest=first,
                latest=last,
                due_date_ordinal=window.due.toordinal()
                if window.due != dt.date.min
                else inst.days[0].date.toordinal(),
                duration=acc.visit_min * 60,
            )

    def chain_next(self, v: int) -> int | None:
        """Spawn the visit after ``v`` (just placed) when the cadence needs one."""
        visit = self.visits[v]
        return self.spawn(visit.account, self.inst.days[self.day_of[v]].date, visit.number + 1)


__all__ = ["State", "Weights"]
