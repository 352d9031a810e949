"""Appointments in the week plan: kept exactly, and every conflict refused by name."""

from __future__ import annotations

import datetime as dt

import pytest

from routing.network import RoadNetwork
from routing.week import Appointment, WeekPlanError
from tests.routing.week_helpers import MONDAY, account, plan, problem

TUESDAY = MONDAY + dt.timedelta(days=1)


def test_appointment_is_kept_exactly(li_net: RoadNetwork) -> None:
    """Tuesday 10:00 for 45 min at Schaan: that stop, at that time, whatever else is due."""
    accounts = [account(n) for n in ("schaan", "triesen", "eschen", "mauren", "vaduz")]
    ap = Appointment("schaan", TUESDAY, dt.time(10, 0), 45, id="ap-1")
    result = plan(li_net, problem(accounts, appointments=(ap,)))
    tuesday = next(d for d in result.days if d.date == TUESDAY)
    (stop,) = [s for s in tuesday.stops if s.account_id == "schaan"]
    assert (stop.start, stop.departure) == (10 * 3600, 10 * 3600 + 45 * 60)
    assert stop.appointment_id == "ap-1"
    assert result.visit_days()["schaan"] == [TUESDAY], "the appointment is the week's visit"


@pytest.mark.parametrize(
    ("appointments", "field", "words"),
    [
        (
            (
                Appointment("schaan", TUESDAY, dt.time(10, 0), 60, id="ap-1"),
                Appointment("triesen", TUESDAY, dt.time(10, 30), 30, id="ap-2"),
            ),
            "appointments[1].start",
            "appointments ap-1 and ap-2 overlap",
        ),
        (
            (Appointment("schaan", TUESDAY, dt.time(7, 0), 30, id="early"),),
            "appointments[0].start",
            "outside the shift (08:00-17:00)",
        ),
        (
            (Appointment("triesen", TUESDAY, dt.time(12, 30), 30, id="lunch-closed"),),
            "appointments[0].start",
            "outside the opening hours of 'triesen'",
        ),
        (
            (Appointment("schaan", MONDAY - dt.timedelta(days=3), dt.time(10, 0), 30, id="old"),),
            "appointments[0].date",
            "is in the past",
        ),
        (
            (Appointment("nowhere", TUESDAY, dt.time(10, 0), 30, id="x"),),
            "appointments[0].account_id",
            "not in the book",
        ),
    ],
)
def test_appointment_conflicts_are_typed_errors(
    li_net: RoadNetwork, appointments: tuple[Appointment, ...], field: str, words: str
) -> None:
    """Overlap (naming both), outside the shift or the hours, in the past, unknown account."""
    accounts = [
        account("schaan"),
        account("triesen", opening_hours="Mo-Fr 08:00-12:00,13:30-18:00"),
    ]
    with pytest.raises(WeekPlanError) as err:
        plan(li_net, problem(accounts, appointments=appointments))
    assert err.value.field == field
    assert words in str(err.value)
