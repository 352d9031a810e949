"""The permission matrix, generated from the schema: every root field, every kind of viewer.

The probe table (:mod:`tests.backend.permission_probes`) has an entry per root field of
``build_schema()``; a field added without a probe fails
:func:`test_every_root_field_has_a_probe`. Each probe runs as the owner rep, a rep of the same
team, a rep and the manager of the other team, the own manager, an admin and an anonymous
caller, and must give exactly the expected outcome. On top of that, every answer is searched
for object ids of the team the viewer does not belong to (a leak, whatever the probe expects),
and every ``NOT_FOUND`` for another team's id must be indistinguishable from the answer for an
id that does not exist. The matrix runs on SQLite (PostGIS is covered by
``test_permissions.py``); the subscription runs over a real WebSocket.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, true

from backend.api.schema import build_schema
from backend.app import create_app
from backend.auth.tokens import issue_token
from backend.db import models
from backend.messaging.stores import SqlInbox
from backend.runtime import Runtime
from backend.services import visits as visit_service
from backend.services.alignments import store_alignment
from backend.services.timeutil import local_today
from backend.settings import Settings, bundled_region_path
from graphql import (
    FieldNode,
    NameNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Visitor,
    parse,
    print_ast,
    visit,
)
from notifications import Event
from notifications.events import EventType
from tests.backend.permission_probes import (
    PROBES,
    TEAM_OF,
    VIEWERS,
    Case,
    Scene,
)
from tests.backend.test_notifications_flow import COMMIT, _gql, _next_notice, _subscribe
from tests.conftest import World, seed_world

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
ROOT_TYPES = ("Query", "Mutation", "Subscription")
_ID_KINDS_BY_TYPENAME = {
    "Account": "account",
    "RankedAccount": "account",
    "Rep": "rep",
    "Team": "team",
    "Alignment": "alignment",
    "Territory": "territory",
    "User": "user",
    "Visit": "visit",
}
_ID_KINDS_BY_KEY = {
    "accountId": "account",
    "account_id": "account",
    "repId": "rep",
    "rep_id": "rep",
    "fromRepId": "rep",
    "toRepId": "rep",
    "teamId": "team",
    "team_id": "team",
    "alignmentId": "alignment",
    "alignment_id": "alignment",
    "alignment_version_id": "alignment",
    "territoryId": "territory",
    "territory_id": "territory",
    "userId": "user",
    "user_id": "user",
}


# ---- schema coverage ------------------------------------------------------------------------


def schema_root_fields() -> set[str]:
    """``Type.field`` for every field of Query, Mutation and Subscription."""
    schema = build_schema(Settings(environment="development"))._schema
    roots = {
        "Query": schema.query_type,
        "Mutation": schema.mutation_type,
        "Subscription": schema.subscription_type,
    }
    return {f"{kind}.{name}" for kind, gtype in roots.items() if gtype for name in gtype.fields}


def test_every_root_field_has_a_probe() -> None:
    """A new query, mutation or subscription without a probe fails here (and stale probes too)."""
    fields = schema_root_fields()
    assert fields - set(PROBES) == set(), "root fields without a probe in permission_probes.py"
    assert set(PROBES) - fields == set(), "probes for fields that no longer exist"
    for name, cases in PROBES.items():
        if name.startswith("Subscription."):
            assert name in SUBSCRIPTION_TESTS, f"{name} needs a WebSocket test"
            continue
        assert cases, f"{name} has no case"
        field = name.split(".", 1)[1]
        for case in cases:
            assert set(case.expect) == set(VIEWERS) - {"anon"}, case.name
            assert _root_field_of(case.query) == field, case.name


def _root_field_of(query: str) -> str:
    op = parse(query).definitions[0]
    assert isinstance(op, OperationDefinitionNode)
    (selection,) = op.selection_set.selections
    assert isinstance(selection, FieldNode)
    return selection.name.value


# ---- the seeded scene -----------------------------------------------------------------------


@functools.cache
def _road_network() -> Any:
    from routing.network import load_region

    cache = os.environ.get("FIELDREP_TEST_ROUTING_CACHE") or str(
        Path(__file__).resolve().parents[2] / ".fieldrep-cache" / "routing"
    )
    return load_region(bundled_region_path(), cache_dir=cache)


def _next_monday() -> dt.date:
    today = dt.date.today()
    return today + dt.timedelta(days=7 - today.weekday())


async def build_scene(runtime: Runtime, world: World) -> Scene:
    """The world plus a draft for team A, a job, a visit, a device and an inbox for everyone."""
    async with runtime.sessionmaker() as session, session.begin():
        rep_of = dict.fromkeys(world.accounts["a1"], world.reps["a1"])
        rep_of |= dict.fromkeys(world.accounts["a2"], world.reps["a2"])
        rep_of[world.accounts["a1"][2]] = world.reps["a2"]
        draft = await store_alignment(
            session,
            team_id=world.teams["A"],
            name="probe draft A",
            rep_of_account=rep_of,
            state=models.AlignmentState.DRAFT,
        )
        territories = (
            await session.execute(
                select(models.Territory.rep_id, models.Territory.id).where(
                    models.Territory.alignment_id.in_(world.alignment_ids.values())
                )
            )
        ).all()
        job = models.Job(
            kind="propose_alignment",
            state="done",
            params={},
            created_by_id=world.users["ma"],
            progress=1.0,
        )
        session.add(job)
        now = dt.datetime.now(dt.UTC)
        visit = await visit_service.check_in(
            session,
            rep_id=world.reps["a1"],
            visible=true(),
            cmd=visit_service.CheckIn(
                client_id="seed-visit-a1",
                account_id=world.accounts["a1"][1],
                at=now - dt.timedelta(hours=1),
                lat=47.101,
                lon=9.521,
            ),
            now=now,
        )
        session.add(
            models.PushSubscriptionRecord(
                user_id=world.users["a1"],
                endpoint="https://push.test/seeded/a1",
                p256dh="k",
                auth="a",
            )
        )
        await session.flush()
        job_id, visit_client_id, draft_id = job.id, visit.client_id, draft.id
    rep_key = {rep_id: key for key, rep_id in world.reps.items()}
    territory_of = {rep_key[r]: t for r, t in territories if r in rep_key}
    notices = dict.fromkeys(world.users, 1)
    notices["a1"] = 2
    inbox = SqlInbox(runtime.sessionmaker)
    for key, count in notices.items():
        for n in range(count):
            await inbox.add(str(world.users[key]), _notice(world, territory_of, key, n))
    return Scene(
        world=world,
        draft_a=draft_id,
        territory_of=territory_of,
        job_id=job_id,
        visit_client_id=visit_client_id,
        endpoint_a1="https://push.test/seeded/a1",
        notices=notices,
        plan_date=_next_monday(),
    )


def _notice(world: World, territory_of: dict[str, int], key: str, n: int) -> Event:
    team = TEAM_OF.get(key)
    payload = {
        "rep_id": str(world.reps.get(key, "")),
        "territory_id": str(territory_of.get(key, "")),
        "effective_date": dt.date.today().isoformat(),
        "gained": [],
        "lost": [],
        "alignment_version_id": str(world.alignment_ids[team]) if team else None,
        "for_user": key,
        "n": n,
    }
    return Event(
        type=EventType.TERRITORY_CHANGED, recipients=(str(world.users[key]),), payload=payload
    )


async def ownership(runtime: Runtime) -> dict[tuple[str, str], int | None]:
    """(kind, id) -> team id of every object in the database: what a leak would look like."""
    owner: dict[tuple[str, str], int | None] = {}
    async with runtime.sessionmaker() as session:

        async def add(kind: str, query: Any) -> None:
            for object_id, team_id in (await session.execute(query)).all():
                owner[(kind, str(object_id))] = team_id

        await add("account", select(models.Account.id, models.Account.team_id))
        await add("rep", select(models.Rep.id, models.Rep.team_id))
        await add("user", select(models.User.id, models.User.team_id))
        await add("team", select(models.Team.id, models.Team.id))
        await add("alignment", select(models.Alignment.id, models.Alignment.team_id))
        await add(
            "territory",
            select(models.Territory.id, models.Alignment.team_id).join(
                models.Alignment, models.Alignment.id == models.Territory.alignment_id
            ),
        )
        await add(
            "visit",
            select(models.Visit.id, models.Rep.team_id).join(
                models.Rep, models.Rep.id == models.Visit.rep_id
            ),
        )
    return owner


def typed_ids(value: Any, kind: str | None = None) -> Iterator[tuple[str, str]]:
    """Every (kind, id) in a response: ``id`` of typed objects and ``*Id``/``*_id`` keys."""
    if isinstance(value, dict):
        own_kind = _ID_KINDS_BY_TYPENAME.get(str(value.get("__typename")))
        for key, item in value.items():
            if key == "id" and own_kind and item is not None:
                yield own_kind, str(item)
            elif key in _ID_KINDS_BY_KEY and isinstance(item, str | int) and item != "":
                yield _ID_KINDS_BY_KEY[key], str(item)
            else:
                yield from typed_ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from typed_ids(item)


class _WithTypename(Visitor):
    def leave_selection_set(self, node: SelectionSetNode, _key: Any, parent: Any, *_: Any) -> Any:
        if isinstance(parent, OperationDefinitionNode):
            return None
        typename = FieldNode(name=NameNode(value="__typename"))
        return SelectionSetNode(selections=(*node.selections, typename))


def with_typename(query: str) -> str:
    """The query with ``__typename`` in every nested selection (to type the ids it returns)."""
    return print_ast(visit(parse(query), _WithTypename()))


def _normalized(message: str, tokens: list[str]) -> str:
    for token in sorted(tokens, key=len, reverse=True):
        message = message.replace(token, "<id>")
    return message


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str) and value:
        yield value


# ---- the matrix -----------------------------------------------------------------------------

CASES = [
    pytest.param(name, i, id=f"{name}[{case.name}]")
    for name, cases in PROBES.items()
    for i, case in enumerate(cases)
]


@SQLITE_ONLY
@pytest.mark.parametrize(("field", "index"), CASES)
async def test_permission_matrix(runtime: Runtime, field: str, index: int) -> None:
    """Every viewer gets exactly the expected outcome, and never another team's ids."""
    case = PROBES[field][index]
    runtime._network = _road_network()
    world = await seed_world(runtime)
    scene = await build_scene(runtime, world)
    tokens = {
        key: issue_token(user_id, "", runtime.settings.secret_key, dt.timedelta(minutes=10))
        for key, user_id in world.users.items()
    }
    problems: list[str] = []
    transport = httpx.ASGITransport(app=create_app(runtime=runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

        async def gql(viewer: str, variables: dict[str, Any]) -> dict[str, Any]:
            headers = {"Authorization": f"Bearer {tokens[viewer]}"} if viewer in tokens else {}
            response = await client.post(
                "/graphql",
                json={"query": with_typename(case.query), "variables": variables},
                headers=headers,
            )
            assert response.status_code < 500, response.text
            body: dict[str, Any] = response.json()
            return body

        for viewer in VIEWERS:
            variables = case.variables(scene, viewer)
            body = await gql(viewer, variables)
            problems += _judge(case, scene, viewer, body)
            problems += _leaks(viewer, body, await ownership(runtime), world)
            expected = case.outcome(viewer)
            if expected.code == "NOT_FOUND" and case.missing is not None:
                missing_vars = case.missing(scene, viewer)
                missing = await gql(viewer, missing_vars)
                problems += _same_as_missing(
                    viewer, body, missing, list(_strings(variables)) + list(_strings(missing_vars))
                )
    assert problems == [], "\n".join([f"{field} / {case.name}:", *problems])


def _judge(case: Case, scene: Scene, viewer: str, body: dict[str, Any]) -> list[str]:
    field = _root_field_of(case.query)
    expected = case.outcome(viewer)
    errors = body.get("errors") or []
    data = body.get("data")
    for error in errors:
        if "code" not in (error.get("extensions") or {}):
            return [f"{viewer}: error without extensions.code: {error}"]
    if expected.code is None:
        if errors:
            return [f"{viewer}: expected data, got {errors}"]
        payload = _without_typename((data or {}).get(field))
        if expected.check is not None:
            try:
                expected.check(payload, scene, viewer)
            except AssertionError as exc:
                return [f"{viewer}: unexpected data {payload!r} ({exc})"]
        return []
    if not errors:
        return [f"{viewer}: expected {expected.code}, got data {data!r}"]
    extensions = errors[0]["extensions"]
    if extensions.get("code") != expected.code:
        return [f"{viewer}: expected {expected.code}, got {errors[0]}"]
    if expected.field is not None and extensions.get("field") != expected.field:
        return [f"{viewer}: expected field {expected.field}, got {errors[0]}"]
    if data is not None and data.get(field) is not None:
        return [f"{viewer}: error but data {data!r}"]
    return []


def _without_typename(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_typename(v) for k, v in value.items() if k != "__typename"}
    if isinstance(value, list):
        return [_without_typename(v) for v in value]
    return value


def _leaks(
    viewer: str, body: dict[str, Any], owner: dict[tuple[str, str], int | None], world: World
) -> list[str]:
    """Ids of objects of a team that is not the viewer's (admins may see everything)."""
    if viewer == "admin":
        return []
    own_team = world.teams[TEAM_OF[viewer]] if viewer in TEAM_OF else None
    leaked = [
        (kind, object_id)
        for kind, object_id in typed_ids(body.get("data"))
        if (kind, object_id) in owner and owner[(kind, object_id)] not in (own_team, None)
    ]
    if viewer == "anon" and body.get("data"):
        leaked += [(k, i) for k, i in typed_ids(body.get("data")) if (k, i) in owner]
    return [f"{viewer}: LEAK of another team's {kind} {oid}" for kind, oid in leaked]


def _same_as_missing(
    viewer: str, foreign: dict[str, Any], missing: dict[str, Any], tokens: list[str]
) -> list[str]:
    """Another team's id must answer exactly like an id that does not exist."""
    first, other = foreign["errors"][0], missing.get("errors", [{}])[0]
    if first.get("extensions") != other.get("extensions"):
        return [f"{viewer}: foreign id {first} differs from missing id {other}"]
    if _normalized(first["message"], tokens) != _normalized(other.get("message", ""), tokens):
        return [f"{viewer}: message {first['message']!r} differs from {other.get('message')!r}"]
    if foreign.get("data") != missing.get("data"):
        return [f"{viewer}: data {foreign.get('data')} differs from {missing.get('data')}"]
    return []


def test_leak_detector_sees_typed_ids_of_other_teams() -> None:
    """The detector must flag another team's ids by type, not confuse equal numbers of kinds."""
    world = World(teams={"A": 1, "B": 2})
    owner = {("account", "7"): 2, ("rep", "7"): 1, ("alignment", "9"): 2}
    leaking = {
        "data": {
            "x": [{"__typename": "RankedAccount", "id": "7"}],
            "y": {"payload": {"alignment_version_id": "9"}},
        }
    }
    harmless = {"data": {"x": {"__typename": "Rep", "id": "7"}, "job": {"id": "7"}}}
    assert len(_leaks("a1", leaking, owner, world)) == 2
    assert _leaks("a1", harmless, owner, world) == []
    assert _leaks("admin", leaking, owner, world) == []


# ---- the subscription -----------------------------------------------------------------------


def _setup_subscription_world(settings: Settings) -> tuple[World, Scene, int]:
    async def run() -> tuple[World, Scene, int]:
        runtime = Runtime.create(settings)
        try:
            world = await seed_world(runtime)
            scene = await build_scene(runtime, world)
            async with runtime.sessionmaker() as session, session.begin():
                rep_of = dict.fromkeys(world.accounts["b1"], world.reps["b1"])
                rep_of |= dict.fromkeys(world.accounts["b2"], world.reps["b2"])
                rep_of[world.accounts["b1"][0]] = world.reps["b2"]
                draft_b = await store_alignment(
                    session,
                    team_id=world.teams["B"],
                    name="probe draft B",
                    rep_of_account=rep_of,
                    state=models.AlignmentState.DRAFT,
                )
                return world, scene, draft_b.id
        finally:
            await runtime.close()

    return asyncio.run(run())


@SQLITE_ONLY
@pytest.mark.timeout(90)
def test_subscription_delivers_only_own_notices(settings: Settings) -> None:
    """Replay and live delivery over graphql-transport-ws: a rep hears only their own notices.

    a1 and b1 subscribe from cursor 0 and get exactly their own seeded notices. Then team A's
    draft is committed (a1 loses an account) and after it team B's (b1 loses one): a1's next
    notice is A's change, and b1's next notice is B's change, so A's never reached b1.
    """
    world, scene, draft_b = _setup_subscription_world(settings)
    today = local_today(settings.timezone).isoformat()
    secret = settings.secret_key
    token = {
        k: issue_token(u, "", secret, dt.timedelta(minutes=10)) for k, u in world.users.items()
    }
    ws_path, protocols = "/graphql", ["graphql-transport-ws"]
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect(ws_path, subprotocols=protocols) as ws_a1,
        client.websocket_connect(ws_path, subprotocols=protocols) as ws_b1,
    ):
        _subscribe(ws_a1, token["a1"], 0)
        _subscribe(ws_b1, token["b1"], 0)
        replay_a1 = [_next_notice(ws_a1) for _ in range(scene.notices["a1"])]
        replay_b1 = [_next_notice(ws_b1) for _ in range(scene.notices["b1"])]
        assert [n["payload"]["for_user"] for n in replay_a1] == ["a1", "a1"]
        assert [n["payload"]["for_user"] for n in replay_b1] == ["b1"]
        committed = _gql(client, token["ma"], COMMIT, id=str(scene.draft_a), d=today)
        assert committed["data"]["commitAlignment"]["state"] == "ACTIVE", committed
        committed = _gql(client, token["mb"], COMMIT, id=str(draft_b), d=today)
        assert committed["data"]["commitAlignment"]["state"] == "ACTIVE", committed
        live_a1 = _next_notice(ws_a1)
        live_b1 = _next_notice(ws_b1)
    assert live_a1["payload"]["alignment_version_id"] == str(scene.draft_a)
    assert live_a1["payload"]["rep_id"] == scene.rep("a1")
    assert [int(a["account_id"]) for a in live_a1["payload"]["lost"]] == [world.accounts["a1"][2]]
    assert live_b1["payload"]["alignment_version_id"] == str(draft_b)
    assert live_b1["payload"]["rep_id"] == scene.rep("b1")
    assert [int(a["account_id"]) for a in live_b1["payload"]["lost"]] == [world.accounts["b1"][0]]


SUBSCRIPTION_TESTS = {"Subscription.notifications": test_subscription_delivers_only_own_notices}
