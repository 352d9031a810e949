"""checkIn / checkOut: idempotent resends, conflicts, far flag, bad input, permissions."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from backend.auth import policy
from backend.auth.viewer import load_viewer
from backend.runtime import Runtime
from backend.services import visits as visit_service
from backend.services.errors import Rejected, RejectKind
from tests.conftest import Api, World
from tests.factories_visits import account_row, client_id, visits_of

CHECK_IN = """
mutation CheckIn($input: CheckInInput!) {
  checkIn(input: $input) {
    id clientId accountId repId checkInAt checkOutAt distanceFromAccountM flaggedFar notes outcome
    position { lat lon }
  }
}
"""
CHECK_OUT = """
mutation CheckOut($input: CheckOutInput!) {
  checkOut(input: $input) { id checkInAt checkOutAt outcome checkOutNotes checkOutClientId }
}
"""
PRIORITY = "query { myAccounts(first: 10, orderBy: NAME) { edges { node { id lastVisitAt priority { dueInDays reasons } } } } }"


def iso(moment: datetime) -> str:
    return moment.isoformat()


def check_in_input(world: World, **overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "clientId": client_id(),
        "accountId": str(world.accounts["a1"][0]),
        "at": iso(datetime.now(UTC) - timedelta(minutes=10)),
        "position": {"lat": 47.101, "lon": 9.520},
        "notes": "met the owner",
        "outcome": "order",
    }
    base.update(overrides)
    return base


def error_of(body: dict[str, object]) -> dict[str, object]:
    assert body.get("data") is None, body
    return body["errors"][0]["extensions"]  # type: ignore[index, no-any-return]


async def test_check_in_updates_cadence_and_priority_at_once(
    api: Api, world: World, runtime: Runtime
) -> None:
    await api.login("repa1@x.test", world.password)
    before = await api.gql(PRIORITY)
    first = before["data"]["myAccounts"]["edges"][0]["node"]  # type: ignore[index]
    assert first["priority"] == {"dueInDays": None, "reasons": ["never visited"]}
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=10)
    body = await api.gql(CHECK_IN, input=check_in_input(world, at=iso(at)))
    visit = body["data"]["checkIn"]  # type: ignore[index]
    assert visit["flaggedFar"] is False
    assert visit["distanceFromAccountM"] == 0.0
    assert visit["repId"] == str(world.reps["a1"])
    assert datetime.fromisoformat(visit["checkInAt"]) == at
    account = await account_row(runtime, world.accounts["a1"][0])
    assert account.last_visit_at is not None
    assert account.last_visit_at.replace(tzinfo=UTC) == at
    after = await api.gql(PRIORITY)
    node = after["data"]["myAccounts"]["edges"][0]["node"]  # type: ignore[index]
    assert node["priority"]["dueInDays"] == 30
    assert node["priority"]["reasons"] == []


async def test_same_client_id_same_content_is_idempotent(
    api: Api, world: World, runtime: Runtime
) -> None:
    await api.login("repa1@x.test", world.password)
    payload = check_in_input(world)
    first = (await api.gql(CHECK_IN, input=payload))["data"]["checkIn"]  # type: ignore[index]
    again = (await api.gql(CHECK_IN, input=payload))["data"]["checkIn"]  # type: ignore[index]
    assert again == first
    assert len(await visits_of(runtime, world.accounts["a1"][0])) == 1


async def test_same_client_id_other_content_is_a_conflict_and_first_kept(
    api: Api, world: World, runtime: Runtime
) -> None:
    await api.login("repa1@x.test", world.password)
    payload = check_in_input(world)
    first = (await api.gql(CHECK_IN, input=payload))["data"]["checkIn"]  # type: ignore[index]
    changed = await api.gql(CHECK_IN, input={**payload, "notes": "something else"})
    assert error_of(changed) == {"code": "CONFLICT", "field": "clientId"}
    other_account = await api.gql(
        CHECK_IN, input={**payload, "accountId": str(world.accounts["a1"][1])}
    )
    assert error_of(other_account) == {"code": "CONFLICT", "field": "clientId"}
    stored = await visits_of(runtime, world.accounts["a1"][0])
    assert [(v.id, v.notes) for v in stored] == [(int(first["id"]), "met the owner")]
    assert await visits_of(runtime, world.accounts["a1"][1]) == []


async def test_far_check_in_is_accepted_and_flagged(api: Api, world: World) -> None:
    await api.login("repa1@x.test", world.password)
    far = check_in_input(world, position={"lat": 47.110, "lon": 9.520})  # ~1 km north
    visit = (await api.gql(CHECK_IN, input=far))["data"]["checkIn"]  # type: ignore[index]
    assert visit["flaggedFar"] is True
    assert visit["distanceFromAccountM"] == pytest.approx(1000.7, abs=0.2)
    near = check_in_input(world, position={"lat": 47.1019, "lon": 9.520})  # ~100 m
    assert (await api.gql(CHECK_IN, input=near))["data"]["checkIn"]["flaggedFar"] is False  # type: ignore[index]


@pytest.mark.parametrize("owner", ["a2", "b1"])
async def test_accounts_the_rep_cannot_see_answer_like_missing_ones(
    api: Api, world: World, runtime: Runtime, owner: str
) -> None:
    await api.login("repa1@x.test", world.password)
    foreign = await api.gql(
        CHECK_IN, input=check_in_input(world, accountId=str(world.accounts[owner][0]))
    )
    missing = await api.gql(CHECK_IN, input=check_in_input(world, accountId="999999"))
    assert error_of(foreign) == error_of(missing) == {"code": "NOT_FOUND", "field": "accountId"}
    assert await visits_of(runtime, world.accounts[owner][0]) == []


async def test_managers_do_not_check_in(api: Api, world: World) -> None:
    await api.login("managera@x.test", world.password)
    body = await api.gql(CHECK_IN, input=check_in_input(world))
    assert error_of(body) == {"code": "FORBIDDEN"}


async def test_future_times_beyond_five_minutes_of_skew_are_refused(
    api: Api, world: World, runtime: Runtime
) -> None:
    await api.login("repa1@x.test", world.password)
    now = datetime.now(UTC)
    late = await api.gql(CHECK_IN, input=check_in_input(world, at=iso(now + timedelta(minutes=10))))
    assert error_of(late) == {"code": "BAD_USER_INPUT", "field": "at"}
    skewed = await api.gql(
        CHECK_IN, input=check_in_input(world, at=iso(now + timedelta(minutes=2)))
    )
    assert skewed["data"]["checkIn"]["id"]  # type: ignore[index]
    naive = await api.gql(CHECK_IN, input=check_in_input(world, at="2025-01-01T10:00:00"))
    assert error_of(naive) == {"code": "BAD_USER_INPUT", "field": "at"}
    assert len(await visits_of(runtime, world.accounts["a1"][0])) == 1


@pytest.mark.parametrize(
    ("position", "field"),
    [
        ({"lat": 91.0, "lon": 9.5}, "position.lat"),
        ({"lat": -90.5, "lon": 9.5}, "position.lat"),
        ({"lat": 47.0, "lon": 180.5}, "position.lon"),
    ],
)
async def test_out_of_range_positions_are_refused(
    api: Api, world: World, runtime: Runtime, position: dict[str, float], field: str
) -> None:
    await api.login("repa1@x.test", world.password)
    body = await api.gql(CHECK_IN, input=check_in_input(world, position=position))
    assert error_of(body) == {"code": "BAD_USER_INPUT", "field": field}
    assert await visits_of(runtime, world.accounts["a1"][0]) == []


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", '"NaN"', "1e400"])
async def test_non_finite_positions_never_reach_the_database(
    api: Api, world: World, runtime: Runtime, raw: str
) -> None:
    """Python's JSON parser accepts NaN/Infinity literals; GraphQL or the service refuses them."""
    await api.login("repa1@x.test", world.password)
    payload = check_in_input(world, position={"lat": "__LAT__", "lon": 9.52})
    text = json.dumps({"query": CHECK_IN, "variables": {"input": payload}}).replace(
        '"__LAT__"', raw
    )
    response = await api.client.post(
        "/graphql",
        content=text,
        headers={"Authorization": f"Bearer {api.token}", "Content-Type": "application/json"},
    )
    body = response.json()
    assert body.get("data") is None and body["errors"], body
    assert await visits_of(runtime, world.accounts["a1"][0]) == []


@pytest.mark.parametrize(
    ("lat", "lon", "field"),
    [
        (float("nan"), 9.5, "position.lat"),
        (47.0, float("inf"), "position.lon"),
        (47.0, float("-inf"), "position.lon"),
    ],
)
async def test_service_refuses_non_finite_coordinates(
    runtime: Runtime, world: World, lat: float, lon: float, field: str
) -> None:
    async with runtime.sessionmaker() as session:
        viewer = await load_viewer(session, world.users["a1"])
        assert viewer is not None and viewer.rep_id is not None
        cmd = visit_service.CheckIn(
            client_id=client_id(),
            account_id=world.accounts["a1"][0],
            at=datetime.now(UTC),
            lat=lat,
            lon=lon,
        )
        with pytest.raises(Rejected) as caught:
            await visit_service.check_in(
                session,
                rep_id=viewer.rep_id,
                visible=policy.accounts_visible_to(viewer),
                cmd=cmd,
                now=datetime.now(UTC),
            )
    assert (caught.value.kind, caught.value.field) == (RejectKind.BAD_INPUT, field)


async def test_last_visit_only_moves_forward(api: Api, world: World, runtime: Runtime) -> None:
    """A queued older check-in arriving late does not make the account look overdue."""
    await api.login("repa1@x.test", world.password)
    recent = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    await api.gql(CHECK_IN, input=check_in_input(world, at=iso(recent)))
    await api.gql(CHECK_IN, input=check_in_input(world, at=iso(recent - timedelta(days=3))))
    account = await account_row(runtime, world.accounts["a1"][0])
    assert account.last_visit_at is not None
    assert account.last_visit_at.replace(tzinfo=UTC) == recent
    assert len(await visits_of(runtime, world.accounts["a1"][0])) == 2


async def test_check_out_is_idempotent_and_conflicts_are_refused(
    api: Api, world: World, runtime: Runtime
) -> None:
    await api.login("repa1@x.test", world.password)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    visit_cid = client_id()
    await api.gql(CHECK_IN, input=check_in_input(world, clientId=visit_cid, at=iso(start)))
    out = {
        "clientId": client_id(),
        "visitClientId": visit_cid,
        "at": iso(start + timedelta(minutes=40)),
        "notes": "follow up in May",
        "outcome": "quote",
    }
    first = (await api.gql(CHECK_OUT, input=out))["data"]["checkOut"]  # type: ignore[index]
    assert first["outcome"] == "quote"
    assert datetime.fromisoformat(first["checkOutAt"]) == start + timedelta(minutes=40)
    assert (await api.gql(CHECK_OUT, input=out))["data"]["checkOut"] == first  # type: ignore[index]
    changed = await api.gql(CHECK_OUT, input={**out, "notes": "other"})
    assert error_of(changed) == {"code": "CONFLICT", "field": "clientId"}
    second = await api.gql(CHECK_OUT, input={**out, "clientId": client_id()})
    assert error_of(second) == {"code": "CONFLICT", "field": "visitClientId"}
    [stored] = await visits_of(runtime, world.accounts["a1"][0])
    assert (stored.check_out_notes, stored.outcome) == ("follow up in May", "quote")


async def test_check_out_errors(api: Api, world: World) -> None:
    await api.login("repa1@x.test", world.password)
    start = datetime.now(UTC) - timedelta(hours=1)
    visit_cid = client_id()
    await api.gql(CHECK_IN, input=check_in_input(world, clientId=visit_cid, at=iso(start)))
    before = {
        "clientId": client_id(),
        "visitClientId": visit_cid,
        "at": iso(start - timedelta(minutes=1)),
    }
    assert error_of(await api.gql(CHECK_OUT, input=before)) == {
        "code": "BAD_USER_INPUT",
        "field": "at",
    }
    unknown = {"clientId": client_id(), "visitClientId": "no-such-visit", "at": iso(start)}
    assert error_of(await api.gql(CHECK_OUT, input=unknown)) == {
        "code": "NOT_FOUND",
        "field": "visitClientId",
    }
    # Another rep cannot close a1's visit: it answers like a missing one.
    await api.login("repa2@x.test", world.password)
    foreign = {
        "clientId": client_id(),
        "visitClientId": visit_cid,
        "at": iso(start + timedelta(minutes=5)),
    }
    assert error_of(await api.gql(CHECK_OUT, input=foreign)) == {
        "code": "NOT_FOUND",
        "field": "visitClientId",
    }
