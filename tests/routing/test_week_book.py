"""Invariants of a whole week on a 60-account book: shifts, opening hours, spacing, reasons."""

from __future__ import annotations

import datetime as dt

import numpy as np

from routing.network import RoadNetwork
from routing.vrp import windows_from_opening_hours
from routing.week import Account, build_matrix, plan_week
from routing.week.due import min_gap_days
from tests.routing.week_helpers import MONDAY, problem

HOURS = ("Mo-Fr 08:00-12:00,13:30-18:00", "Tu-Sa 09:00-12:00,14:00-18:30", "Mo,We,Fr 08:00-17:00")


def _book(net: RoadNetwork) -> list[Account]:
    rng = np.random.default_rng(11)
    out = []
    for k, i in enumerate(rng.choice(net.node_count, 60, replace=False)):
        cadence = int(rng.integers(3, 40))
        out.append(
            Account(
                f"b{k:02d}",
                float(net.node_lat[i]),
                float(net.node_lon[i]),
                int(rng.choice([20, 30, 45])),
                cadence,
                MONDAY - dt.timedelta(days=int(rng.integers(1, cadence + 3))),
                float(rng.integers(0, 100)),
                str(rng.choice(HOURS)) if rng.random() < 0.4 else None,
            )
        )
    return out


def test_every_day_fits_its_shift_hours_and_spacing(li_net: RoadNetwork) -> None:
    """No day over its shift, every visit inside the account's hours, spacing kept, and
    every due visit either planned or waiting with a reason."""
    p = problem(_book(li_net))
    result = plan_week(p, build_matrix(li_net, p))
    accounts = {a.id: a for a in p.accounts}
    for day in result.days:
        assert day.end_arrival <= day.shift_end
        assert len({s.account_id for s in day.stops}) == len(day.stops)
        for stop in day.stops:
            acc = accounts[stop.account_id]
            if acc.opening_hours:
                w = windows_from_opening_hours(acc.opening_hours, day.date, "Europe/Vaduz")
                assert any(x.start <= stop.start and stop.departure <= x.end for x in w.windows)
    for account_id, dates in result.visit_days().items():
        acc = accounts[account_id]
        gap = min_gap_days(acc.cadence_days, p.spacing_share)
        previous = acc.last_visit
        for date in sorted(dates):
            assert previous is None or (date - previous).days >= gap, (account_id, dates)
            previous = date
    waiting = {u.account_id for u in result.unscheduled}
    assert all(u.reason for u in result.unscheduled)
    end = result.days[-1].date
    for acc in p.accounts:
        due = acc.last_visit + dt.timedelta(days=acc.cadence_days) if acc.last_visit else MONDAY
        if due <= end:
            assert acc.id in result.visit_days() or acc.id in waiting, acc.id
