"""Tiny week problems on real Liechtenstein places (shared by the test_week_* files)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from routing.network import RoadNetwork
from routing.week import Account, Point, Rep, WeekPlan, WeekProblem, build_matrix, plan_week

MONDAY = dt.date(2026, 12, 7)
HOME = Point(47.1410, 9.5209)  # Vaduz
PLACES = {
    "schaan": (47.1660, 9.5097),
    "triesen": (47.1067, 9.5286),
    "balzers": (47.1019, 9.5363),
    "eschen": (47.2107, 9.5223),
    "ruggell": (47.2380, 9.5270),
    "mauren": (47.2197, 9.5428),
    "triesenberg": (47.1181, 9.5430),
    "vaduz": (47.1390, 9.5220),
}


def account(name: str, **kw: Any) -> Account:
    """An account at a named place (due at once unless told otherwise)."""
    lat, lon = PLACES[name]
    values: dict[str, Any] = {
        "visit_min": 30,
        "cadence_days": 14,
        "last_visit": None,
        "priority": 50,
    }
    values.update(kw)
    return Account(kw.pop("id", name), lat, lon, **{k: v for k, v in values.items() if k != "id"})


def problem(accounts: list[Account], **kw: Any) -> WeekProblem:
    """A Monday-to-Friday problem from Vaduz."""
    values: dict[str, Any] = {"start": MONDAY, "timezone": "Europe/Vaduz"}
    values.update(kw)
    return WeekProblem(Rep("ann", HOME), tuple(accounts), **values)


def plan(net: RoadNetwork, p: WeekProblem) -> WeekPlan:
    """Plan ``p`` on ``net``."""
    return plan_week(p, build_matrix(net, p))


def day_of(plan_: WeekPlan, account_id: str) -> list[dt.date]:
    """Dates ``account_id`` is visited."""
    return plan_.visit_days().get(account_id, [])
