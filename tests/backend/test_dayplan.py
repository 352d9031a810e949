"""Day plans on the real Liechtenstein road network with the real OR-Tools solver."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from backend.db.models import Account, AlignmentState, Role
from backend.runtime import Runtime
from backend.services.alignments import store_alignment
from backend.services.dayplan import (
    DayPlanError,
    PlanChanges,
    PlanOptions,
    Position,
    plan_day,
    replan_day,
)
from backend.services.people import create_rep, create_user, get_or_create_team
from tests.conftest import Api

# The Monday of ISO week 48 of this year: late November (CET, +01:00, as the times below say),
# and always inside the API's window for plan dates (400 days from today).
MONDAY = dt.date.fromisocalendar(dt.date.today().year, 48, 1)
M = MONDAY.isoformat()
VADUZ_HOME = (47.1410, 9.5209)
# Real points in Vaduz/Schaan, all next to drivable roads.
POINTS = [
    (47.1395, 9.5230),
    (47.1440, 9.5195),
    (47.1480, 9.5170),
    (47.1365, 9.5245),
    (47.1520, 9.5150),
    (47.1600, 9.5110),
    (47.1655, 9.5085),
    (47.1330, 9.5190),
    (47.1290, 9.5220),
    (47.1700, 9.5080),
]
PASSWORD = "pw-for-dayplan-tests"


@pytest.fixture
def db_url(tmp_path: Path, sqlite_template: Path) -> Iterator[str]:
    """Routing is storage-agnostic: these tests run on SQLite only (PostGIS is covered elsewhere)."""
    path = tmp_path / "dayplan.sqlite3"
    shutil.copy(sqlite_template, path)
    yield f"sqlite+aiosqlite:///{path}"


async def _seed(runtime: Runtime, hours: dict[int, str] | None = None) -> dict[str, Any]:
    hours = hours or {}
    ids: list[int] = []
    async with runtime.sessionmaker() as session, session.begin():
        team = await get_or_create_team(session, "Plan Team")
        other = await get_or_create_team(session, "Other Team")
        user = await create_user(
            session,
            email="rep@p.test",
            password=PASSWORD,
            full_name="Rep P",
            role=Role.REP,
            team=team,
        )
        rep = await create_rep(
            session,
            user=user,
            team=team,
            home=VADUZ_HOME,
            work_start=dt.time(8),
            work_end=dt.time(17),
        )
        await create_user(
            session,
            email="boss@p.test",
            password=PASSWORD,
            full_name="Boss",
            role=Role.MANAGER,
            team=team,
        )
        await create_user(
            session,
            email="stranger@p.test",
            password=PASSWORD,
            full_name="Stranger",
            role=Role.MANAGER,
            team=other,
        )
        for i, (lat, lon) in enumerate(POINTS):
            account = Account(
                external_id=f"p{i}",
                team_id=team.id,
                name=f"Shop {i}",
                lat=lat,
                lon=lon,
                location=(lat, lon),
                visit_duration_min=30,
                visit_cadence_days=30,
                opening_hours=hours.get(i),
                potential=10_000.0 * (i + 1),
                last_visit_at=dt.datetime.combine(
                    MONDAY - dt.timedelta(days=83), dt.time(0), dt.UTC
                ),
            )
            session.add(account)
            await session.flush()
            ids.append(account.id)
        await store_alignment(
            session,
            team_id=team.id,
            name="v1",
            rep_of_account=dict.fromkeys(ids, rep.id),
            state=AlignmentState.ACTIVE,
        )
    return {"rep": rep.id, "accounts": ids}


def _check_consistent(plan: dict[str, Any]) -> None:
    """Times add up: arrival + wait = start, start + duration = end, legs follow each other."""
    previous_end = dt.datetime.fromisoformat(plan["departure"])
    for stop in plan["stops"]:
        arrival = dt.datetime.fromisoformat(stop["arrival"])
        start = dt.datetime.fromisoformat(stop["start"])
        end = dt.datetime.fromisoformat(stop["end"])
        assert arrival + dt.timedelta(seconds=stop["wait_seconds"]) == start
        assert (end - start) == dt.timedelta(minutes=30)
        assert arrival >= previous_end + dt.timedelta(seconds=stop["leg_seconds"]) - dt.timedelta(
            seconds=1
        )
        assert stop["leg_polyline"]
        previous_end = end
    totals = plan["totals"]
    busy = totals["drive_seconds"] + totals["visit_seconds"]
    assert totals["windshield_ratio"] == pytest.approx(totals["drive_seconds"] / busy, abs=1e-4)


async def test_plan_respects_opening_hours_and_explains_every_left_out_account(
    runtime: Runtime,
) -> None:
    world = await _seed(
        runtime, hours={0: "Tu-Fr 08:00-18:00", 1: "Mo 14:00-17:00", 2: "not a valid expression"}
    )
    net = await runtime.road_network()
    async with runtime.sessionmaker() as session:
        record = await plan_day(session, net, world["rep"], MONDAY, PlanOptions(max_candidates=10))
        await session.commit()
    plan = record.plan
    _check_consistent(plan)
    planned = {s["account_id"]: s for s in plan["stops"]}
    dropped = {d["account_id"]: d for d in plan["dropped"]}
    assert set(planned) | set(dropped) == set(world["accounts"])
    assert not set(planned) & set(dropped)
    assert dropped[world["accounts"][0]]["reason"] == "closed on Mondays"
    monday_afternoon = planned[world["accounts"][1]]
    assert monday_afternoon["start"] >= f"{M}T14:00" and monday_afternoon["end"] <= f"{M}T17:00"
    assert any(
        n.startswith("Shop 2: opening hours unparseable") and "assumed open" in n
        for n in plan["notes"]
    )
    assert len(plan["breaks"]) == 1 and "11:30" <= plan["breaks"][0]["start"][11:16] <= "14:00"
    assert plan["version"] == 1


async def test_candidate_limit_and_priority_reasons(runtime: Runtime) -> None:
    world = await _seed(runtime)
    net = await runtime.road_network()
    async with runtime.sessionmaker() as session:
        record = await plan_day(session, net, world["rep"], MONDAY, PlanOptions(max_candidates=4))
    plan = record.plan
    assert len(plan["stops"]) == 4
    not_candidates = [d for d in plan["dropped"] if d["reason_code"] == "not_candidate"]
    assert len(not_candidates) == 6
    # Higher potential ranks first when all are equally overdue: the 4 highest are the candidates.
    assert {s["account_id"] for s in plan["stops"]} == set(world["accounts"][6:])


async def test_same_input_gives_the_same_plan(runtime: Runtime) -> None:
    world = await _seed(runtime)
    net = await runtime.road_network()
    async with runtime.sessionmaker() as session:
        first = dict((await plan_day(session, net, world["rep"], MONDAY)).plan)
        second = dict((await plan_day(session, net, world["rep"], MONDAY)).plan)
    assert second["version"] == first["version"] + 1
    assert [s["account_id"] for s in first["stops"]] == [s["account_id"] for s in second["stops"]]
    assert first["totals"] == second["totals"]


async def test_must_visit_that_cannot_fit_is_a_specific_error(runtime: Runtime) -> None:
    world = await _seed(runtime, hours={3: "Sa 09:00-12:00"})
    net = await runtime.road_network()
    async with runtime.sessionmaker() as session:
        with pytest.raises(DayPlanError) as info:
            await plan_day(
                session, net, world["rep"], MONDAY, PlanOptions(must_visit=(world["accounts"][3],))
            )
    assert str(world["accounts"][3]) in str(info.value) or "Shop 3" in str(info.value)
    assert info.value.field == "options.mustVisit"


async def test_account_far_from_roads_is_left_out_with_its_reason(runtime: Runtime) -> None:
    world = await _seed(runtime)
    far = world["accounts"][5]
    async with runtime.sessionmaker() as session, session.begin():
        # Up on the Alpine slopes east of Vaduz, far from any drivable road of the extract.
        await session.execute(
            update(Account)
            .where(Account.id == far)
            .values(lat=47.1450, lon=9.6300, location=(47.1450, 9.6300))
        )
    net = await runtime.road_network()
    async with runtime.sessionmaker() as session:
        plan = (await plan_day(session, net, world["rep"], MONDAY)).plan
    reason = next(d for d in plan["dropped"] if d["account_id"] == far)
    assert (reason["reason_code"], reason["reason"]) == ("unreachable", "no road within 500 m")


async def test_replan_fixes_done_visits_drops_cancelled_and_keeps_order(runtime: Runtime) -> None:
    world = await _seed(runtime)
    net = await runtime.road_network()
    async with runtime.sessionmaker() as session:
        morning = dict(
            (await plan_day(session, net, world["rep"], MONDAY, PlanOptions(max_candidates=8))).plan
        )
        order = [s["account_id"] for s in morning["stops"]]
        assert len(order) >= 5
        done, cancelled = order[:2], order[3]
        at = dt.datetime.fromisoformat(morning["stops"][1]["end"])
        position = Position(morning["stops"][1]["lat"], morning["stops"][1]["lon"])
        urgent = next(a for a in world["accounts"] if a not in order)
        noon = (
            await replan_day(
                session,
                net,
                world["rep"],
                MONDAY,
                position,
                at,
                PlanChanges(done=tuple(done), cancelled=(cancelled,), added=(urgent,)),
            )
        ).plan
    _check_consistent({**noon, "stops": noon["stops"][2:], "departure": noon["replanned_at"]})
    new_order = [s["account_id"] for s in noon["stops"]]
    assert new_order[:2] == done and [s["status"] for s in noon["stops"][:2]] == ["done", "done"]
    assert cancelled not in new_order
    assert any(
        d["account_id"] == cancelled and d["reason_code"] == "cancelled" for d in noon["dropped"]
    )
    assert urgent in new_order
    untouched = [a for a in order[2:] if a != cancelled]
    kept = [a for a in new_order if a in untouched]
    assert kept == [a for a in untouched if a in kept]  # relative order of untouched stops kept
    assert dt.datetime.fromisoformat(noon["stops"][2]["arrival"]) >= at


async def test_graphql_my_day_and_manager_access(api: Api, runtime: Runtime) -> None:
    world = await _seed(runtime)
    await api.login("rep@p.test", PASSWORD)
    query = "query($d: Date!, $r: ID) { myDay(date: $d, repId: $r) { version stops { accountId arrival legPolyline } totals { windshieldRatio driveSeconds } dropped { accountId reason } } }"
    mine = await api.gql(query, d=MONDAY.isoformat())
    assert "errors" not in mine, mine
    assert mine["data"]["myDay"]["version"] == 1  # type: ignore[index]
    again = await api.gql(query, d=MONDAY.isoformat())
    assert again["data"]["myDay"]["version"] == 1  # stored plan, not planned twice  # type: ignore[index]
    await api.login("boss@p.test", PASSWORD)
    boss = await api.gql(query, d=MONDAY.isoformat(), r=str(world["rep"]))
    assert boss["data"]["myDay"]["stops"] == mine["data"]["myDay"]["stops"]  # type: ignore[index]
    await api.login("stranger@p.test", PASSWORD)
    stranger = await api.gql(query, d=MONDAY.isoformat(), r=str(world["rep"]))
    assert stranger["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "repId"}  # type: ignore[index]


async def test_graphql_replan_rejects_bad_input(api: Api, runtime: Runtime) -> None:
    await _seed(runtime)
    await api.login("rep@p.test", PASSWORD)
    mutation = "mutation($p: PositionInput!, $at: DateTime!) { replanMyDay(position: $p, at: $at) { version } }"
    off_map = await api.gql(mutation, p={"lat": 47.0, "lon": 12.0}, at=f"{M}T10:00:00+01:00")
    assert off_map["errors"][0]["extensions"]["field"] == "position"  # type: ignore[index]
    out_of_range = await api.gql(mutation, p={"lat": 95.0, "lon": 9.5}, at=f"{M}T10:00:00+01:00")
    assert out_of_range["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "position.lat",
    }  # type: ignore[index]
    naive = await api.gql(mutation, p={"lat": 47.14, "lon": 9.52}, at=f"{M}T10:00:00")
    assert naive["errors"][0]["extensions"]["field"] == "at"  # type: ignore[index]
    plan_bad = await api.gql(
        f'mutation {{ planMyDay(date: "{M}", options: {{maxCandidates: 500}}) {{ version }} }}'
    )
    assert plan_bad["errors"][0]["extensions"] == {
        "code": "BAD_USER_INPUT",
        "field": "options.maxCandidates",
    }  # type: ignore[index]


async def test_two_first_requests_for_the_same_day_get_one_plan(api: Api, runtime: Runtime) -> None:
    """Two tabs asking for today at once: one plans, the other returns that plan (no 500)."""
    import asyncio

    await _seed(runtime)
    await api.login("rep@p.test", PASSWORD)
    query = "query($d: Date!) { myDay(date: $d) { version stops { accountId } } }"
    first, second = await asyncio.gather(
        api.gql(query, d=MONDAY.isoformat()), api.gql(query, d=MONDAY.isoformat())
    )
    assert "errors" not in first and "errors" not in second, (first, second)
    assert first["data"]["myDay"] == second["data"]["myDay"]  # type: ignore[index]


async def test_manager_planning_and_replanning_notify_the_rep(api: Api, runtime: Runtime) -> None:
    """Changes made to a rep's day (not their own first look) reach their inbox via the outbox."""
    from sqlalchemy import select

    from backend.db.models import OutboxEvent

    world = await _seed(runtime)
    await api.login("rep@p.test", PASSWORD)
    await api.gql("query($d: Date!) { myDay(date: $d) { version } }", d=MONDAY.isoformat())
    async with runtime.sessionmaker() as session:
        assert (await session.execute(select(OutboxEvent))).first() is None  # own first look: quiet
    await api.login("boss@p.test", PASSWORD)
    planned = await api.gql(
        "mutation($d: Date!, $r: ID) { planMyDay(date: $d, repId: $r) { version stops { accountId } } }",
        d=MONDAY.isoformat(),
        r=str(world["rep"]),
    )
    assert planned["data"]["planMyDay"]["version"] == 2  # type: ignore[index]
    async with runtime.sessionmaker() as session:
        events = (await session.execute(select(OutboxEvent))).scalars().all()
    assert [e.type for e in events] == ["day_plan.updated.v1"]
    assert events[0].payload["payload"]["stop_count"] == len(planned["data"]["planMyDay"]["stops"])  # type: ignore[index]
    assert events[0].payload["payload"]["reason"] == "planned by your manager"
