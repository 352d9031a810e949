"""Coverage and windshield analytics on a hand-computable dataset, and who may read them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from backend.runtime import Runtime
from tests.conftest import Api, World
from tests.factories_visits import add_breadcrumbs, add_day_plan, add_visits, set_accounts

COVERAGE = """
query Coverage($teamId: ID!, $from: Date!, $to: Date!) {
  coverage(teamId: $teamId, from: $from, to: $to) {
    total { accounts covered share potentialTotal potentialCovered visits }
    byRep { repId accounts covered visits }
    byTier { key accounts covered }
    byTerritory { label repId accounts covered }
    overdue { accountId overdueDays }
    visitsPerDay { date visits }
  }
}
"""
WINDSHIELD = """
query Windshield($teamId: ID!, $from: Date!, $to: Date!) {
  windshield(teamId: $teamId, from: $from, to: $to) {
    weeks { repId weekStart plannedDriveSeconds plannedVisitSeconds plannedDays plannedRatio
            actualDriveSeconds actualVisitSeconds actualRatio }
  }
}
"""
FROM, TO = "2025-01-06", "2025-02-02"  # 28 days, Europe/Vaduz (UTC+1)


def at(day: int, hour: int = 10, month: int = 1, year: int = 2025) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


async def seed_coverage(runtime: Runtime, world: World) -> None:
    """Cadence 14 everywhere, so the 28-day period needs 2 visits and one in the last 14 days.

    x0: Jan 10 + Jan 24 -> covered      y0: Jan 7 + Jan 21 -> covered
    x1: Jan 30 only     -> too few      y1: Jan 7 + Jan 14 -> 19 days old, overdue by 5
    x2: Dec 20 only     -> overdue 30   y2: never visited
    """
    x0, x1, x2 = world.accounts["a1"]
    y0, y1, y2 = world.accounts["a2"]
    await set_accounts(runtime, [x0, x1, x2, y0, y1, y2], visit_cadence_days=14)
    await set_accounts(runtime, [x0, x1], tier="A")
    await set_accounts(runtime, [x2, y0], tier="B")
    a1, a2, b1 = world.reps["a1"], world.reps["a2"], world.reps["b1"]
    await add_visits(
        runtime,
        [
            {"account_id": x0, "rep_id": a1, "check_in_at": at(10)},
            {"account_id": x0, "rep_id": a1, "check_in_at": at(24)},
            {"account_id": x1, "rep_id": a1, "check_in_at": at(30)},
            {"account_id": x2, "rep_id": a1, "check_in_at": at(20, month=12, year=2024)},
            {"account_id": y0, "rep_id": a2, "check_in_at": at(7)},
            {"account_id": y0, "rep_id": a2, "check_in_at": at(21)},
            {"account_id": y1, "rep_id": a2, "check_in_at": at(7, 11)},
            {"account_id": y1, "rep_id": a2, "check_in_at": at(14)},
            # Team B's visit must not count for team A.
            {"account_id": world.accounts["b1"][0], "rep_id": b1, "check_in_at": at(10)},
        ],
    )


async def test_coverage_numbers(api: Api, world: World, runtime: Runtime) -> None:
    await seed_coverage(runtime, world)
    await api.login("managera@x.test", world.password)
    body = await api.gql(COVERAGE, teamId=str(world.teams["A"]), **{"from": FROM, "to": TO})
    assert "errors" not in body, body
    report = body["data"]["coverage"]  # type: ignore[index]
    assert report["total"] == {
        "accounts": 6,
        "covered": 2,
        "share": pytest.approx(1 / 3),
        "potentialTotal": 12000.0,
        "potentialCovered": 2000.0,
        "visits": 7,
    }
    a1, a2 = str(world.reps["a1"]), str(world.reps["a2"])
    assert sorted(
        (r["repId"], r["accounts"], r["covered"], r["visits"]) for r in report["byRep"]
    ) == sorted([(a1, 3, 1, 3), (a2, 3, 1, 4)])
    assert [(r["repId"], r["accounts"], r["covered"]) for r in report["byTerritory"]] == [
        (a1, 3, 1),
        (a2, 3, 1),
    ]
    assert [(r["key"], r["accounts"], r["covered"]) for r in report["byTier"]] == [
        ("A", 2, 1),
        ("B", 2, 1),
        ("(none)", 2, 0),
    ]
    x2, y1, y2 = world.accounts["a1"][2], world.accounts["a2"][1], world.accounts["a2"][2]
    assert report["overdue"] == [
        {"accountId": str(y2), "overdueDays": None},
        {"accountId": str(x2), "overdueDays": 30},
        {"accountId": str(y1), "overdueDays": 5},
    ]
    assert report["visitsPerDay"] == [
        {"date": "2025-01-07", "visits": 2},
        {"date": "2025-01-10", "visits": 1},
        {"date": "2025-01-14", "visits": 1},
        {"date": "2025-01-21", "visits": 1},
        {"date": "2025-01-24", "visits": 1},
        {"date": "2025-01-30", "visits": 1},
    ]


async def test_windshield_planned_and_actual(api: Api, world: World, runtime: Runtime) -> None:
    """Week of Jan 6 for a1: planned 1 h drive / 3 h visits; actual 120 s drive / 45 min visit."""
    a1 = world.reps["a1"]
    await add_day_plan(
        runtime, a1, date(2025, 1, 7), {"totals": {"drive_seconds": 3600, "visit_seconds": 10800}}
    )
    await add_day_plan(runtime, a1, date(2025, 1, 8), {"stops": []})  # no totals: no data
    await add_visits(
        runtime,
        [
            {
                "account_id": world.accounts["a1"][0],
                "rep_id": a1,
                "check_in_at": at(10),
                "check_out_at": at(10) + timedelta(minutes=45),
            },
            # still open: not counted
            {"account_id": world.accounts["a1"][1], "rep_id": a1, "check_in_at": at(10, 12)},
        ],
    )
    t0 = at(10, 9)
    await add_breadcrumbs(
        runtime,
        a1,
        [
            (t0, 47.100, 9.52),
            (t0 + timedelta(minutes=1), 47.109, 9.52),  # ~1 km in 60 s: driving
            (t0 + timedelta(minutes=2), 47.118, 9.52),  # driving
            (t0 + timedelta(minutes=3), 47.11805, 9.52),  # ~6 m: standing
            (t0 + timedelta(minutes=20), 47.2, 9.52),  # 17-minute gap: no signal
        ],
    )
    await api.login("managera@x.test", world.password)
    body = await api.gql(WINDSHIELD, teamId=str(world.teams["A"]), **{"from": FROM, "to": TO})
    assert "errors" not in body, body
    weeks = body["data"]["windshield"]["weeks"]  # type: ignore[index]
    assert len(weeks) == 8  # 2 reps x 4 weeks
    first = next(w for w in weeks if w["repId"] == str(a1) and w["weekStart"] == "2025-01-06")
    assert first == {
        "repId": str(a1),
        "weekStart": "2025-01-06",
        "plannedDriveSeconds": 3600.0,
        "plannedVisitSeconds": 10800.0,
        "plannedDays": 1,
        "plannedRatio": 0.25,
        "actualDriveSeconds": 120.0,
        "actualVisitSeconds": 2700.0,
        "actualRatio": pytest.approx(120 / 2820),
    }
    others = [w for w in weeks if w is not first]
    assert all(w["plannedRatio"] is None and w["actualRatio"] is None for w in others)


@pytest.mark.parametrize(
    ("viewer", "team", "expected"),
    [
        ("repa1@x.test", "A", {"code": "FORBIDDEN"}),
        ("managerb@x.test", "A", {"code": "NOT_FOUND", "field": "id"}),
        ("managera@x.test", "missing", {"code": "NOT_FOUND", "field": "id"}),
    ],
)
async def test_analytics_permissions(
    api: Api, world: World, viewer: str, team: str, expected: dict[str, str]
) -> None:
    await api.login(viewer, world.password)
    team_id = str(world.teams[team]) if team in world.teams else "999999"
    for query in (COVERAGE, WINDSHIELD):
        body = await api.gql(query, teamId=team_id, **{"from": FROM, "to": TO})
        assert body["data"] is None
        assert body["errors"][0]["extensions"] == expected  # type: ignore[index]


async def test_admin_reads_any_team_and_bad_ranges_name_the_field(api: Api, world: World) -> None:
    await api.login("admin@x.test", world.password)
    body = await api.gql(COVERAGE, teamId=str(world.teams["B"]), **{"from": FROM, "to": TO})
    assert body["data"]["coverage"]["total"]["accounts"] == 6  # type: ignore[index]
    reversed_range = await api.gql(
        COVERAGE, teamId=str(world.teams["B"]), **{"from": TO, "to": FROM}
    )
    assert reversed_range["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "to"}  # type: ignore[index]
    too_long = await api.gql(
        WINDSHIELD, teamId=str(world.teams["B"]), **{"from": "2024-01-01", "to": "2025-06-01"}
    )
    assert too_long["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "to"}  # type: ignore[index]
