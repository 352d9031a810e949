"""Every id a caller sends goes through the policy: a teammate's id answers like a missing one.

Issue 13 item 1: ``replanMyDay(changes: {added: [...]})`` handed a rep the name, position and
priority of a teammate's accounts, because the planner checked the team, not the caller's
scope. The probes below send, as rep ``a1``, the id of something of rep ``a2`` (same team) in
each id argument of the API, and the same request with an id that does not exist: both must be
NOT_FOUND on the same field with the same message (ids aside), and nothing of ``a2``'s may
appear in the answer. Run on SQLite and PostgreSQL through the real GraphQL endpoint.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import true

from backend.runtime import Runtime
from backend.services import visits as visit_service
from backend.services.timeutil import local_today
from tests.conftest import Api, World

MISSING = "999999"
EMAIL = {"a1": "repa1@x.test", "a2": "repa2@x.test", "ma": "managera@x.test"}

REPLAN = (
    "mutation($p: PositionInput!, $at: DateTime!, $c: PlanChangesInput) {"
    " replanMyDay(position: $p, at: $at, changes: $c) { repId stops { accountId name lat lon"
    " priority } dropped { accountId name } } }"
)
PLAN = (
    "mutation($d: Date!, $r: ID, $o: PlanOptionsInput) { planMyDay(date: $d, repId: $r,"
    " options: $o) { repId stops { accountId name required } dropped { accountId name } } }"
)
MY_DAY = "query($d: Date!, $r: ID) { myDay(date: $d, repId: $r) { repId stops { accountId } } }"
ACCOUNT = "query($id: ID!) { account(id: $id) { id name location { lat lon } } }"
CHECK_IN = "mutation($i: CheckInInput!) { checkIn(input: $i) { id accountId } }"
CHECK_OUT = "mutation($i: CheckOutInput!) { checkOut(input: $i) { id accountId } }"
KPIS = "{ myTerritory { alignment { kpis } } }"
ALIGNMENT_KPIS = "query($id: ID!) { alignment(id: $id) { kpis } }"


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def _today() -> str:
    return local_today("Europe/Vaduz").isoformat()


HOME = {"lat": 47.101, "lon": 9.52}


@dataclass(frozen=True)
class Probe:
    """One id argument of one operation: the document and its variables around the id."""

    operation: str
    argument: str
    document: str
    variables: Callable[[str], dict[str, Any]]
    kind: str = "account"
    """What the id names: 'account', 'rep' or 'visit' (a check-in's client id)."""


PROBES = [
    Probe("account", "id", ACCOUNT, lambda i: {"id": i}),
    Probe("myDay", "repId", MY_DAY, lambda i: {"d": _today(), "r": i}, kind="rep"),
    Probe("planMyDay", "repId", PLAN, lambda i: {"d": _today(), "r": i}, kind="rep"),
    Probe(
        "planMyDay", "options.mustVisit", PLAN, lambda i: {"d": _today(), "o": {"mustVisit": [i]}}
    ),
    Probe(
        "replanMyDay",
        "changes.added",
        REPLAN,
        lambda i: {"p": HOME, "at": _now(), "c": {"added": [i]}},
    ),
    Probe(
        "replanMyDay",
        "changes.cancelled",
        REPLAN,
        lambda i: {"p": HOME, "at": _now(), "c": {"cancelled": [i]}},
    ),
    Probe(
        "replanMyDay",
        "changes.done",
        REPLAN,
        lambda i: {"p": HOME, "at": _now(), "c": {"done": [i]}},
    ),
    Probe(
        "checkIn",
        "accountId",
        CHECK_IN,
        lambda i: {
            "i": {"clientId": "authz-probe-1", "accountId": i, "at": _now(), "position": HOME}
        },
    ),
    Probe(
        "checkOut",
        "visitClientId",
        CHECK_OUT,
        lambda i: {"i": {"clientId": "authz-probe-2", "visitClientId": i, "at": _now()}},
        kind="visit",
    ),
]


async def _seed_visit_of_a2(runtime: Runtime, world: World) -> str:
    """An open visit of rep a2 (what a1 must not be able to close)."""
    now = dt.datetime.now(dt.UTC)
    async with runtime.sessionmaker() as session, session.begin():
        visit = await visit_service.check_in(
            session,
            rep_id=world.reps["a2"],
            visible=true(),
            cmd=visit_service.CheckIn(
                client_id="visit-of-a2",
                account_id=world.accounts["a2"][0],
                at=now - dt.timedelta(minutes=30),
                lat=47.102,
                lon=9.52,
            ),
            now=now,
        )
        return visit.client_id


def _teammates_id(probe: Probe, world: World, visit_of_a2: str) -> str:
    if probe.kind == "rep":
        return str(world.reps["a2"])
    if probe.kind == "visit":
        return visit_of_a2
    return str(world.accounts["a2"][1])


@pytest.mark.parametrize("probe", PROBES, ids=[f"{p.operation}.{p.argument}" for p in PROBES])
async def test_a_teammates_id_answers_like_a_missing_id(
    api: Api, runtime: Runtime, world: World, probe: Probe
) -> None:
    """As rep a1, a2's id in ``probe.argument`` is NOT_FOUND on that field, like a missing id."""
    visit_of_a2 = await _seed_visit_of_a2(runtime, world)
    assert (await api.login(EMAIL["a1"], world.password)).status_code == 200
    foreign_id = _teammates_id(probe, world, visit_of_a2)
    missing_id = "no-such-visit" if probe.kind == "visit" else MISSING
    foreign = await api.gql(probe.document, **probe.variables(foreign_id))
    missing = await api.gql(probe.document, **probe.variables(missing_id))

    assert foreign.get("data") is None, foreign
    errors: Any = foreign["errors"]
    assert errors[0]["extensions"] == {"code": "NOT_FOUND", "field": probe.argument}, foreign
    assert errors[0]["extensions"] == missing["errors"][0]["extensions"]  # type: ignore[index]
    assert errors[0]["message"].replace(foreign_id, "N") == missing["errors"][0][  # type: ignore[index]
        "message"
    ].replace(missing_id, "N")
    text = json.dumps(foreign)
    assert "Acct a2" not in text and "Rep A2" not in text


async def test_replan_added_does_not_reveal_a_teammates_account(api: Api, world: World) -> None:
    """The attack of issue 13: a2's accounts added to a1's re-plan come back as nothing at all."""
    await api.login(EMAIL["a1"], world.password)
    body = await api.gql(
        REPLAN, p=HOME, at=_now(), c={"added": [str(a) for a in world.accounts["a2"]]}
    )
    assert body.get("data") is None
    assert body["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "changes.added"}  # type: ignore[index]
    assert "Acct a2" not in json.dumps(body)


async def test_another_teams_account_in_a_managers_plan_is_not_found(
    api: Api, world: World
) -> None:
    """Manager A planning rep a1's day with team B's account: NOT_FOUND, like a missing id."""
    await api.login(EMAIL["ma"], world.password)
    rep = str(world.reps["a1"])
    foreign = await api.gql(
        PLAN, d=_today(), r=rep, o={"mustVisit": [str(world.accounts["b1"][0])]}
    )
    missing = await api.gql(PLAN, d=_today(), r=rep, o={"mustVisit": [MISSING]})
    assert foreign["errors"][0]["extensions"] == {  # type: ignore[index]
        "code": "NOT_FOUND",
        "field": "options.mustVisit",
    }
    assert foreign["errors"][0]["extensions"] == missing["errors"][0]["extensions"]  # type: ignore[index]


async def test_a_manager_may_add_an_account_of_the_team_to_a_reps_day(
    api: Api, world: World
) -> None:
    """Manager A puts a2's account on a1's day; a1 then re-plans with it still on the route."""
    await api.login(EMAIL["ma"], world.password)
    extra = str(world.accounts["a2"][0])
    body: Any = await api.gql(
        PLAN, d=_today(), r=str(world.reps["a1"]), o={"mustVisit": [extra], "maxCandidates": 5}
    )
    assert "errors" not in body, body
    stops = {s["accountId"]: s for s in body["data"]["planMyDay"]["stops"]}
    assert extra in stops and stops[extra]["required"] is True
    # The rep's own re-plan keeps the manager's must-visit (authorized when it was added).
    await api.login(EMAIL["a1"], world.password)
    later = dt.datetime.now(dt.UTC).replace(microsecond=0)
    replanned: Any = await api.gql(
        REPLAN, p=HOME, at=later.isoformat(), c={"added": [str(world.accounts["a1"][0])]}
    )
    if replanned.get("errors"):  # late in the evening nothing fits any more: still not a leak
        assert replanned["errors"][0]["extensions"]["code"] == "INFEASIBLE", replanned
        return
    routed = {s["accountId"] for s in replanned["data"]["replanMyDay"]["stops"]}
    dropped = {d["accountId"] for d in replanned["data"]["replanMyDay"]["dropped"]}
    assert extra in routed | dropped


async def test_a_rep_sees_only_their_own_territorys_kpis(
    api: Api, runtime: Runtime, world: World
) -> None:
    """Low item: colleagues' potential and workload are not in a rep's alignment KPIs."""
    from backend.db.models import Alignment

    kpis = {
        "workload_max_deviation": 0.1,
        "potential_ratio": 1.4,
        "territories": [
            {"rep_id": str(world.reps["a1"]), "potential": 6000.0, "workload_hours": 10.0},
            {"rep_id": str(world.reps["a2"]), "potential": 7000.0, "workload_hours": 12.0},
        ],
    }
    async with runtime.sessionmaker() as session, session.begin():
        alignment = await session.get(Alignment, world.alignment_ids["A"])
        assert alignment is not None
        alignment.kpis = kpis
    await api.login(EMAIL["a1"], world.password)
    mine: Any = await api.gql(KPIS)
    assert mine["data"]["myTerritory"]["alignment"]["kpis"] == {
        "territories": [kpis["territories"][0]]  # type: ignore[index]
    }
    direct: Any = await api.gql(ALIGNMENT_KPIS, id=str(world.alignment_ids["A"]))
    assert direct["data"]["alignment"]["kpis"] == {"territories": [kpis["territories"][0]]}  # type: ignore[index]
    await api.login(EMAIL["ma"], world.password)
    manager: Any = await api.gql(ALIGNMENT_KPIS, id=str(world.alignment_ids["A"]))
    assert manager["data"]["alignment"]["kpis"] == kpis
