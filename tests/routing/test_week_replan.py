"""Re-planning the week after a change: only the affected day and its neighbours move."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np

from routing.network import RoadNetwork
from routing.week import Account, Appointment, build_matrix, plan_week, replan_week
from tests.routing.week_helpers import MONDAY, problem


def _book(net: RoadNetwork, n: int = 30) -> list[Account]:
    """Accounts on road nodes, due spread over the week (deterministic)."""
    rng = np.random.default_rng(7)
    nodes = rng.choice(net.node_count, n, replace=False)
    out = []
    for k, i in enumerate(nodes):
        cadence = int(rng.integers(10, 30))
        out.append(
            Account(
                f"a{k:02d}",
                float(net.node_lat[i]),
                float(net.node_lon[i]),
                30,
                cadence,
                MONDAY - dt.timedelta(days=cadence - int(rng.integers(0, 5))),
                float(rng.integers(0, 100)),
            )
        )
    # visited yesterday: neither due nor allowed this week, until an appointment says so
    i = int(nodes[0])
    out.append(
        Account(
            "fresh",
            float(net.node_lat[i]) + 0.001,
            float(net.node_lon[i]),
            30,
            60,
            MONDAY - dt.timedelta(days=1),
            50.0,
        )
    )
    return out


def test_replan_after_one_appointment_changes_only_that_day_and_neighbours(
    li_net: RoadNetwork,
) -> None:
    """An appointment added on Wednesday: Monday, Tuesday and Friday keep their plans."""
    p = problem(_book(li_net))
    matrix = build_matrix(li_net, p)
    before = plan_week(p, matrix)
    wednesday = MONDAY + dt.timedelta(days=2)
    visited = before.visit_days()
    assert "fresh" not in visited
    target = "fresh"
    ap = Appointment(target, wednesday, dt.time(14, 0), 60, id="new")
    changed = dataclasses.replace(p, appointments=(ap,))
    after = replan_week(changed, matrix, before)
    assert after.churn is not None
    assert set(after.churn.days_changed) <= {
        wednesday - dt.timedelta(days=1),
        wednesday,
        wednesday + dt.timedelta(days=1),
    }
    assert wednesday in after.churn.days_changed
    assert after.churn.added == 1
    assert after.churn.moved <= 3
    kept = {d.date: d for d in before.days}
    for day in after.days:
        if day.date not in after.churn.days_changed:
            assert day == kept[day.date], day.date
    stop = next(s for d in after.days for s in d.stops if s.appointment_id == "new")
    assert stop.start == 14 * 3600


def test_replan_keeps_started_days_exactly(li_net: RoadNetwork) -> None:
    """Monday already started: it stays as it was even when an appointment lands on it."""
    p = problem(_book(li_net))
    matrix = build_matrix(li_net, p)
    before = plan_week(p, matrix)
    target = "fresh"
    ap = Appointment(target, MONDAY + dt.timedelta(days=1), dt.time(9, 0), 30, id="tue")
    after = replan_week(
        dataclasses.replace(p, appointments=(ap,)), matrix, before, started_through=MONDAY
    )
    assert after.days[0] == before.days[0]
    assert any(s.appointment_id == "tue" for s in after.days[1].stops)
