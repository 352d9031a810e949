"""myDay serves the stored plan from one row read, and always the newest version (both backends).

The parsed view of a plan is kept per (row, version, update time); these tests check that a new
version, or the row changed in place, is what the next request shows, and that another rep's
plan never answers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update

from backend.api.dayplan_api import PLAN_VIEWS_KEY
from backend.db.models import DayPlanRecord
from backend.runtime import Runtime
from tests.conftest import Api, World
from tests.factories_visits import add_day_plan

DAY = dt.date(2026, 11, 23)
MY_DAY = """query($d: Date!) { myDay(date: $d) { repId version
  stops { accountId name arrival } totals { stops driveSeconds } notes } }"""


def plan_document(names: list[str], note: str) -> dict[str, Any]:
    """A small plan document in the stored shape."""
    start = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)

    def clock(minutes: int) -> str:
        return (start + dt.timedelta(minutes=minutes)).isoformat()

    return {
        "timezone": "Europe/Vaduz",
        "departure": clock(0),
        "shift": {"start": clock(0), "end": clock(540)},
        "home": {"lat": 47.14, "lon": 9.52},
        "stops": [
            {
                "sequence": n,
                "account_id": 100 + n,
                "name": name,
                "lat": 47.14,
                "lon": 9.52,
                "arrival": clock(30 * n + 10),
                "wait_seconds": 0,
                "start": clock(30 * n + 10),
                "end": clock(30 * n + 40),
                "leg_seconds": 600,
                "leg_metres": 5000.0,
                "leg_polyline": "",
            }
            for n, name in enumerate(names)
        ],
        "return_leg": {
            "arrival": clock(500),
            "leg_seconds": 600,
            "leg_metres": 5000.0,
            "leg_polyline": "",
        },
        "breaks": [],
        "totals": {
            "stops": len(names),
            "drive_seconds": 600 * (len(names) + 1),
            "visit_seconds": 1800 * len(names),
            "wait_seconds": 0,
            "distance_m": 5000.0 * (len(names) + 1),
            "windshield_ratio": 0.25,
        },
        "dropped": [],
        "notes": [note],
    }


def names_of(body: dict[str, Any]) -> list[str]:
    assert "errors" not in body, body
    return [s["name"] for s in body["data"]["myDay"]["stops"]]


async def test_my_day_serves_the_newest_version_of_the_stored_plan(
    api: Api, world: World, runtime: Runtime
) -> None:
    rep = world.reps["a1"]
    await add_day_plan(runtime, rep, DAY, plan_document(["Shop 1", "Shop 2"], "first"))
    await api.login("repa1@x.test", world.password)
    first = await api.gql(MY_DAY, d=DAY.isoformat())
    assert names_of(first) == ["Shop 1", "Shop 2"]
    assert first["data"]["myDay"]["version"] == 1  # type: ignore[index]
    assert (await api.gql(MY_DAY, d=DAY.isoformat()))["data"] == first["data"]
    assert len(runtime.extras[PLAN_VIEWS_KEY]) == 1

    # A re-plan (anywhere) stores a new version: the next request shows it.
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(DayPlanRecord)
            .where(DayPlanRecord.rep_id == rep, DayPlanRecord.plan_date == DAY)
            .values(version=2, plan=plan_document(["Shop 3"], "second"))
        )
    second = await api.gql(MY_DAY, d=DAY.isoformat())
    assert names_of(second) == ["Shop 3"]
    assert second["data"]["myDay"]["version"] == 2  # type: ignore[index]
    assert second["data"]["myDay"]["notes"] == ["second"]  # type: ignore[index]

    # Even a change in place, without a new version, moves the row's update time.
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(DayPlanRecord)
            .where(DayPlanRecord.rep_id == rep, DayPlanRecord.plan_date == DAY)
            .values(
                plan=plan_document(["Shop 4"], "in place"),
                updated_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5),
            )
        )
    assert names_of(await api.gql(MY_DAY, d=DAY.isoformat())) == ["Shop 4"]


async def test_another_reps_plan_never_answers(api: Api, world: World, runtime: Runtime) -> None:
    """a2's parsed plan is kept too, but a1 only ever gets their own (or none)."""
    await add_day_plan(runtime, world.reps["a2"], DAY, plan_document(["Theirs"], "a2"))
    await add_day_plan(runtime, world.reps["a1"], DAY, plan_document(["Mine"], "a1"))
    await api.login("repa2@x.test", world.password)
    assert names_of(await api.gql(MY_DAY, d=DAY.isoformat())) == ["Theirs"]
    await api.login("repa1@x.test", world.password)
    assert names_of(await api.gql(MY_DAY, d=DAY.isoformat())) == ["Mine"]
    foreign = await api.gql(
        """query($d: Date!, $r: ID!) { myDay(date: $d, repId: $r) { version } }""",
        d=DAY.isoformat(),
        r=str(world.reps["a2"]),
    )
    assert foreign["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # type: ignore[index]
