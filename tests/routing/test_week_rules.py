"""The week planner's rules, one tiny case each (routing.week on the bundled extract)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from routing.network import RoadNetwork
from routing.week import (
    Absence,
    WeekPlanError,
    build_matrix,
    plan_from_json,
    plan_to_json,
    plan_week,
)
from tests.routing.week_helpers import MONDAY, account, day_of, plan, problem


def test_spacing_share_keeps_the_visit_after_its_share_of_the_cadence(li_net: RoadNetwork) -> None:
    """Cadence 10, last visit the Monday before: with share 0.9 not before Wednesday."""
    acc = account("schaan", cadence_days=10, last_visit=MONDAY - dt.timedelta(days=7))
    early = day_of(plan(li_net, problem([acc], spacing_share=0.9)), "schaan")
    assert len(early) == 1
    assert early[0] >= MONDAY + dt.timedelta(days=2)
    assert early[0] <= MONDAY + dt.timedelta(days=3)  # due Thursday: as soon as possible


def test_short_cadence_gets_several_visits_never_on_one_day(li_net: RoadNetwork) -> None:
    """Cadence 2 over five days: at least two visits, spaced by ceil(0.7 * 2) = 2 days."""
    days = day_of(plan(li_net, problem([account("eschen", cadence_days=2)])), "eschen")
    assert len(days) >= 2
    assert len(set(days)) == len(days)
    assert all((b - a).days >= 2 for a, b in itertools.pairwise(days))


def test_closed_on_every_planned_day_has_its_reason(li_net: RoadNetwork) -> None:
    """Open on Saturdays only, due now, horizon Monday-Friday: it waits and says why."""
    shop = account("balzers", opening_hours="Sa 09:00-12:00")
    result = plan(li_net, problem([shop, account("triesen")]))
    assert day_of(result, "balzers") == []
    (waits,) = result.unscheduled
    assert waits.account_id == "balzers"
    assert waits.reason_code == "closed"
    assert "closed on every planned day" in waits.reason


def test_full_week_lowest_priority_waits_with_hours_in_the_reason(li_net: RoadNetwork) -> None:
    """Two days of 8.5 h, eight 3-hour visits: the lowest priorities wait, naming the hours."""
    names = ["schaan", "triesen", "balzers", "eschen", "ruggell", "mauren", "triesenberg", "vaduz"]
    accounts = [account(n, visit_min=180, priority=10 * (i + 1)) for i, n in enumerate(names)]
    result = plan(li_net, problem(accounts, days=2))
    planned = set(result.visit_days())
    waiting = {u.account_id for u in result.unscheduled}
    assert planned | waiting == set(names)
    assert max(a.priority for a in accounts if a.id in waiting) < min(
        a.priority for a in accounts if a.id in planned
    )
    reason = result.unscheduled[0].reason
    assert "the week is full" in reason
    assert "h of visits and driving for 17 h of shifts" in reason


def test_horizon_over_twenty_days_is_a_typed_error(li_net: RoadNetwork) -> None:
    """21 working days: refused, naming the field."""
    p = problem([account("schaan")], days=21)
    with pytest.raises(WeekPlanError) as err:
        plan_week(p, build_matrix(li_net, problem([account("schaan")])))
    assert err.value.field == "days"
    assert "1 to 20 working days" in str(err.value)


def test_cadence_zero_is_a_typed_error_naming_the_field(li_net: RoadNetwork) -> None:
    """A cadence of 0 days names the account and its field."""
    p = problem([account("schaan"), account("triesen", cadence_days=0)])
    with pytest.raises(WeekPlanError) as err:
        plan(li_net, p)
    assert err.value.field == "accounts[1].cadence_days"
    assert "'triesen'" in str(err.value)


def test_absences_are_respected(li_net: RoadNetwork) -> None:
    """A day off has no visit; a morning away starts the day after it."""
    tuesday = MONDAY + dt.timedelta(days=1)
    accounts = [account(n) for n in ("schaan", "triesen", "eschen")]
    absences = (
        Absence(MONDAY, reason="vacation"),
        Absence(tuesday, None, dt.time(12, 0), reason="training"),
    )
    result = plan(li_net, problem(accounts, absences=absences))
    by_date = {d.date: d for d in result.days}
    assert by_date[MONDAY].off and not by_date[MONDAY].stops
    assert by_date[MONDAY].note == "vacation"
    assert len(by_date[tuesday].stops) == 3, "due at once: the first afternoon worked"
    assert all(s.arrival >= 12 * 3600 for s in by_date[tuesday].stops)
    assert by_date[tuesday].departure >= 12 * 3600


def test_absence_over_the_whole_horizon_is_a_typed_error(li_net: RoadNetwork) -> None:
    """Every day off: nothing can be planned, said with the field."""
    days = [MONDAY + dt.timedelta(days=i) for i in range(5)]
    p = problem([account("schaan")], absences=tuple(Absence(d) for d in days))
    with pytest.raises(WeekPlanError) as err:
        plan(li_net, p)
    assert err.value.field == "absences"


def test_same_input_same_plan_and_the_codec_round_trips(li_net: RoadNetwork) -> None:
    """Two runs give the same document; the document reads back to the same plan."""
    names = ["schaan", "triesen", "balzers", "eschen", "ruggell", "mauren", "triesenberg"]
    accounts = [
        account(n, cadence_days=3 + i, last_visit=MONDAY - dt.timedelta(days=i), priority=i)
        for i, n in enumerate(names)
    ]
    p = problem(accounts)
    first, second = plan(li_net, p), plan(li_net, p)
    a, b = (
        plan_to_json(first, timezone="Europe/Vaduz"),
        plan_to_json(second, timezone="Europe/Vaduz"),
    )
    a.pop("stats")
    b.pop("stats")
    assert a == b
    back = plan_from_json(plan_to_json(first))
    assert back.days == first.days
    assert back.unscheduled == first.unscheduled
    worked = next(d for d in a["days"] if d["stops"])
    assert worked["stops"][0]["arrival"].startswith(worked["date"] + "T")
    assert worked["stops"][0]["arrival"].endswith("+01:00")
