"""Territory versions end to end: propose (job) -> compare -> commit -> active + outbox events."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import select

from backend.db.models import Account, AlignmentState, Job, OutboxEvent, Role
from backend.runtime import Runtime
from backend.services.alignments import assignment_of, store_alignment
from backend.services.people import create_rep, create_user, get_or_create_team
from backend.services.territories import activate_due_alignments
from tests.conftest import Api

PW = "territory-tests-pw"


async def _seed(runtime: Runtime, skewed: bool = True) -> dict[str, Any]:
    """One team, 3 reps, 30 accounts on real road nodes; the active plan is deliberately skewed."""
    net = await runtime.road_network()
    rng = random.Random(3)
    nodes = rng.sample(range(net.node_count), 33)
    async with runtime.sessionmaker() as session, session.begin():
        team = await get_or_create_team(session, "North")
        other = await get_or_create_team(session, "South")
        await create_user(
            session,
            email="boss@t.test",
            password=PW,
            full_name="Boss",
            role=Role.MANAGER,
            team=team,
        )
        await create_user(
            session,
            email="other@t.test",
            password=PW,
            full_name="Other",
            role=Role.MANAGER,
            team=other,
        )
        reps = []
        for i in range(3):
            node = nodes[30 + i]
            user = await create_user(
                session,
                email=f"rep{i}@t.test",
                password=PW,
                full_name=f"Rep {i}",
                role=Role.REP,
                team=team,
            )
            reps.append(
                await create_rep(
                    session,
                    user=user,
                    team=team,
                    home=(float(net.node_lat[node]), float(net.node_lon[node])),
                )
            )
        ids = []
        for i, node in enumerate(nodes[:30]):
            lat, lon = float(net.node_lat[node]), float(net.node_lon[node])
            account = Account(
                external_id=f"n{i}",
                team_id=team.id,
                name=f"Account {i:02d}",
                lat=lat,
                lon=lon,
                location=(lat, lon),
                potential=1000.0,
                visit_cadence_days=30,
                visit_duration_min=30,
            )
            session.add(account)
            await session.flush()
            ids.append(account.id)
        # 20 / 5 / 5: far out of balance, so a realignment must move accounts.
        owners = (
            [reps[0].id] * 20 + [reps[1].id] * 5 + [reps[2].id] * 5
            if skewed
            else [reps[i % 3].id for i in range(30)]
        )
        active = await store_alignment(
            session,
            team_id=team.id,
            name="v1",
            rep_of_account=dict(zip(ids, owners, strict=True)),
            state=AlignmentState.ACTIVE,
        )
    return {
        "team": team.id,
        "other": other.id,
        "reps": [r.id for r in reps],
        "users": [r.user_id for r in reps],
        "accounts": ids,
        "active": active.id,
    }


PROPOSE = "mutation($p: ProposeAlignmentInput!) { proposeAlignment(params: $p) { id state } }"
JOB = "query($id: ID!) { job(id: $id) { state progress message result } }"
COMPARE = "query($a: ID!, $b: ID!) { compareAlignments(a: $a, b: $b) { kpisA kpisB moves { accountId fromRepId toRepId } } }"
COMMIT = "mutation($id: ID!, $d: Date!) { commitAlignment(id: $id, effectiveDate: $d) { id state effectiveDate } }"


async def _propose(api: Api, runtime: Runtime, team: int, **params: Any) -> dict[str, Any]:
    started = await api.gql(PROPOSE, p={"teamId": str(team), **params})
    assert "errors" not in started, started
    job_id = started["data"]["proposeAlignment"]["id"]  # type: ignore[index]
    await runtime.jobs.wait(job_id)
    job = (await api.gql(JOB, id=job_id))["data"]["job"]  # type: ignore[index]
    return job  # type: ignore[no-any-return]


async def test_realignment_flow_notifies_exactly_the_reps_who_change(
    api: Api, runtime: Runtime
) -> None:
    world = await _seed(runtime)
    await api.login("boss@t.test", PW)
    job = await _propose(
        api, runtime, world["team"], mode="realign", name="rebalance", maxMovedShare=0.6
    )
    assert job["state"] == "done", job
    draft = int(job["result"]["alignmentId"])
    kpis = job["result"]["kpis"]
    assert kpis["workload_max_deviation"] <= 0.05

    comparison = (await api.gql(COMPARE, a=str(world["active"]), b=str(draft)))["data"][
        "compareAlignments"
    ]  # type: ignore[index]
    assert comparison["kpisA"]["workload_max_deviation"] > 0.5
    async with runtime.sessionmaker() as session:
        before = await assignment_of(session, world["active"])
        after = await assignment_of(session, draft)
    expected_moves = {a for a in before if before[a] != after[a]}
    assert {int(m["accountId"]) for m in comparison["moves"]} == expected_moves
    assert 5 <= len(expected_moves) <= 12  # balance needs ~5 moves; churn stays low

    today = runtime.today()
    committed = await api.gql(COMMIT, id=str(draft), d=today.isoformat())
    assert committed["data"]["commitAlignment"]["state"] == "ACTIVE"  # type: ignore[index]
    async with runtime.sessionmaker() as session:
        states = {
            a.id: a.state
            for a in (
                await session.execute(
                    select(__import__("backend.db.models", fromlist=["Alignment"]).Alignment)
                )
            ).scalars()
        }
        events = (await session.execute(select(OutboxEvent))).scalars().all()
    assert (
        states[world["active"]] is AlignmentState.ARCHIVED
        and states[draft] is AlignmentState.ACTIVE
    )
    gained_by_rep: dict[str, set[int]] = {}
    lost_by_rep: dict[str, set[int]] = {}
    for event in events:
        payload = event.payload["payload"]
        assert event.type == "territory.changed.v1"
        gained_by_rep[payload["rep_id"]] = {int(g["account_id"]) for g in payload["gained"]}
        lost_by_rep[payload["rep_id"]] = {int(g["account_id"]) for g in payload["lost"]}
        assert payload["effective_date"] == today.isoformat()
        user_of_rep = dict(zip(map(str, world["reps"]), map(str, world["users"]), strict=True))
        assert event.payload["recipients"] == [user_of_rep[payload["rep_id"]]]
    for rep in world["reps"]:
        gained = {a for a in expected_moves if after[a] == rep}
        lost = {a for a in expected_moves if before[a] == rep}
        if gained or lost:
            assert gained_by_rep[str(rep)] == gained and lost_by_rep[str(rep)] == lost
        else:
            assert str(rep) not in gained_by_rep  # reps whose territory did not change hear nothing


async def test_realigning_a_balanced_plan_moves_nothing(api: Api, runtime: Runtime) -> None:
    world = await _seed(runtime, skewed=False)
    await api.login("boss@t.test", PW)
    first = await _propose(api, runtime, world["team"], mode="design", name="fresh")
    assert first["state"] == "done", first
    await api.gql(COMMIT, id=first["result"]["alignmentId"], d=runtime.today().isoformat())
    again = await _propose(api, runtime, world["team"], mode="realign", name="again")
    comparison = (
        await api.gql(COMPARE, a=first["result"]["alignmentId"], b=again["result"]["alignmentId"])
    )["data"]["compareAlignments"]  # type: ignore[index]
    assert comparison["moves"] == []


async def test_scheduled_alignment_activates_on_its_date(api: Api, runtime: Runtime) -> None:
    world = await _seed(runtime)
    await api.login("boss@t.test", PW)
    job = await _propose(api, runtime, world["team"], mode="realign", maxMovedShare=0.6)
    tomorrow = runtime.today() + dt.timedelta(days=1)
    scheduled = await api.gql(COMMIT, id=job["result"]["alignmentId"], d=tomorrow.isoformat())
    assert scheduled["data"]["commitAlignment"]["state"] == "SCHEDULED"  # type: ignore[index]
    async with runtime.sessionmaker() as session, session.begin():
        assert await activate_due_alignments(session, runtime.today()) == []
        assert (await session.execute(select(OutboxEvent))).first() is None
        assert await activate_due_alignments(session, tomorrow) == [
            int(job["result"]["alignmentId"])
        ]
    async with runtime.sessionmaker() as session:
        assert len((await session.execute(select(OutboxEvent))).all()) >= 2


async def test_only_the_teams_managers_change_territories(api: Api, runtime: Runtime) -> None:
    world = await _seed(runtime)
    await api.login("rep0@t.test", PW)
    as_rep = await api.gql(PROPOSE, p={"teamId": str(world["team"])})
    assert as_rep["errors"][0]["extensions"]["code"] == "FORBIDDEN"  # type: ignore[index]
    await api.login("other@t.test", PW)
    foreign = await api.gql(PROPOSE, p={"teamId": str(world["team"])})
    assert foreign["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "id"}  # type: ignore[index]
    foreign_commit = await api.gql(COMMIT, id=str(world["active"]), d=runtime.today().isoformat())
    assert foreign_commit["errors"][0]["extensions"]["code"] == "NOT_FOUND"  # type: ignore[index]
    await api.login("boss@t.test", PW)
    bad = await api.gql(PROPOSE, p={"teamId": str(world["team"]), "tolerance": 0.9})
    assert bad["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "params.tolerance"}  # type: ignore[index]
    active_again = await api.gql(COMMIT, id=str(world["active"]), d=runtime.today().isoformat())
    assert active_again["errors"][0]["extensions"] == {"code": "CONFLICT", "field": "id"}  # type: ignore[index]


async def test_hand_edits_keep_the_balance_rule(api: Api, runtime: Runtime) -> None:
    world = await _seed(runtime, skewed=False)
    await api.login("boss@t.test", PW)
    job = await _propose(api, runtime, world["team"], mode="realign")
    draft = job["result"]["alignmentId"]
    async with runtime.sessionmaker() as session:
        rep_of = await assignment_of(session, int(draft))
    victim = next(a for a, r in rep_of.items() if r == world["reps"][1])
    mutation = 'mutation($a: ID!, $m: [AccountMoveInput!]!, $f: Boolean!) { reassignAccounts(alignmentId: $a, moves: $m, allowImbalance: $f, note: "call before 10") { id } }'
    moves = [
        {"accountId": str(a), "repId": str(world["reps"][0])}
        for a, r in rep_of.items()
        if r == world["reps"][1]
    ][:4]
    refused = await api.gql(mutation, a=draft, m=moves, f=False)
    ext = refused["errors"][0]["extensions"]  # type: ignore[index]
    assert ext["code"] == "INFEASIBLE" and ext["field"] == "moves" and ext["deviation"] > 0.05
    async with runtime.sessionmaker() as session:
        assert await assignment_of(session, int(draft)) == rep_of  # nothing stored on refusal
    forced = await api.gql(
        mutation, a=draft, m=[{"accountId": str(victim), "repId": str(world["reps"][0])}], f=True
    )
    assert "errors" not in forced, forced
    async with runtime.sessionmaker() as session:
        assert (await assignment_of(session, int(draft)))[victim] == world["reps"][0]
    # The note reaches the rep who takes the account over, with the account's name.
    committed = await api.gql(COMMIT, id=draft, d=runtime.today().isoformat())
    assert committed["data"]["commitAlignment"]["state"] == "ACTIVE", committed  # type: ignore[index]
    async with runtime.sessionmaker() as session:
        payloads = [
            e.payload["payload"] for e in (await session.execute(select(OutboxEvent))).scalars()
        ]
        name = await session.scalar(select(Account.name).where(Account.id == victim))
    gained = {p["rep_id"]: p["gained"] for p in payloads}[str(world["reps"][0])]
    handover = next(g for g in gained if int(g["account_id"]) == victim)
    assert handover == {"account_id": str(victim), "account_name": name, "note": "call before 10"}
    lost = {p["rep_id"]: p["lost"] for p in payloads}[str(world["reps"][1])]
    assert victim in {int(g["account_id"]) for g in lost}


async def test_a_job_whose_process_died_is_marked_failed(runtime: Runtime) -> None:
    old = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            Job(id="dead", kind="propose_alignment", state="running", params={}, updated_at=old)
        )
        session.add(
            Job(
                id="alive",
                kind="propose_alignment",
                state="running",
                params={},
                updated_at=dt.datetime.now(dt.UTC),
            )
        )
    assert await runtime.jobs.recover_interrupted() == 1
    async with runtime.sessionmaker() as session:
        dead = await session.get(Job, "dead")
        alive = await session.get(Job, "alive")
    assert dead is not None and dead.state == "failed" and "start it again" in (dead.message or "")
    assert alive is not None and alive.state == "running"
