"""myAccounts by PRIORITY / NAME / DISTANCE with filters and 'near me' (both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from backend.db.models import Team
from backend.runtime import Runtime
from tests.conftest import Api, World
from tests.factories_visits import set_accounts

LIST = """
query($first: Int!, $after: String, $orderBy: AccountOrderBy!, $filter: AccountFilterInput) {
  myAccounts(first: $first, after: $after, orderBy: $orderBy, filter: $filter) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id name tier distanceM
                   priority { score reasons dueInDays overdueDays penalty } } }
  }
}
"""


def nodes(body: dict[str, object]) -> list[dict[str, object]]:
    assert "errors" not in body, body
    return [e["node"] for e in body["data"]["myAccounts"]["edges"]]  # type: ignore[index]


async def stage_a1(runtime: Runtime, world: World) -> list[int]:
    """a1's accounts: #0 ten days overdue, #1 visited 5 days ago, #2 never visited."""
    now = datetime.now(UTC)
    a0, a1, a2 = world.accounts["a1"]
    await set_accounts(runtime, [a0], last_visit_at=now - timedelta(days=40, hours=1), tier="A")
    await set_accounts(runtime, [a1], last_visit_at=now - timedelta(days=5, hours=1), tier="B")
    await set_accounts(runtime, [a2], segment="retail")
    return [a0, a1, a2]


async def test_priority_order_scores_and_reasons(api: Api, world: World, runtime: Runtime) -> None:
    """Never visited + top potential first, then 10 days overdue, then the fresh one."""
    a0, a1, a2 = await stage_a1(runtime, world)
    await api.login("repa1@x.test", world.password)
    got = nodes(await api.gql(LIST, first=10, orderBy="PRIORITY"))
    assert [int(n["id"]) for n in got] == [a2, a0, a1]  # type: ignore[arg-type]
    assert [n["priority"] for n in got] == [
        {
            "score": 65.0,
            "reasons": ["never visited", "top 10 % potential"],
            "dueInDays": None,
            "overdueDays": 0,
            "penalty": 3900,
        },
        # overdue 40/30/2 * .40 + tier A 1.0 * .15
        {
            "score": 41.67,
            "reasons": ["overdue by 10 days", "tier A"],
            "dueInDays": -10,
            "overdueDays": 10,
            "penalty": 2500,
        },
        # overdue 5/30/2 * .40 + potential .5 * .25 + tier B .6 * .15
        {
            "score": 24.83,
            "reasons": ["top 50 % potential", "tier B"],
            "dueInDays": 25,
            "overdueDays": 0,
            "penalty": 1490,
        },
    ]
    assert all(n["distanceM"] is None for n in got)


async def test_priority_pages_walk_the_same_order(api: Api, world: World, runtime: Runtime) -> None:
    a0, a1, a2 = await stage_a1(runtime, world)
    await api.login("repa1@x.test", world.password)
    seen, after = [], None
    for _ in range(3):
        body = await api.gql(LIST, first=1, after=after, orderBy="PRIORITY")
        seen += [int(n["id"]) for n in nodes(body)]  # type: ignore[arg-type]
        after = body["data"]["myAccounts"]["pageInfo"]["endCursor"]  # type: ignore[index]
    assert seen == [a2, a0, a1]
    assert body["data"]["myAccounts"]["pageInfo"]["hasNextPage"] is False  # type: ignore[index]
    name_cursor = (await api.gql(LIST, first=1, orderBy="NAME"))["data"]["myAccounts"]["pageInfo"][
        "endCursor"
    ]  # type: ignore[index]
    wrong = await api.gql(LIST, first=1, after=name_cursor, orderBy="PRIORITY")
    assert wrong["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}  # type: ignore[index]


async def test_filters_due_tier_segment(api: Api, world: World, runtime: Runtime) -> None:
    a0, a1, a2 = await stage_a1(runtime, world)
    await api.login("repa1@x.test", world.password)

    async def ids(**filter_: object) -> list[int]:
        body = await api.gql(LIST, first=10, orderBy="NAME", filter=filter_)
        return [int(n["id"]) for n in nodes(body)]  # type: ignore[arg-type]

    assert await ids(due=True) == [a0, a2]
    assert await ids(due=False) == [a1]
    assert await ids(tier="a") == [a0]
    assert await ids(segment="retail") == [a2]
    assert await ids(segment="retail", due=False) == []
    body = await api.gql(LIST, first=10, orderBy="NAME", filter={"due": True})
    assert body["data"]["myAccounts"]["totalCount"] == 2  # type: ignore[index]


async def test_near_is_an_exact_set_ordered_by_distance(api: Api, world: World) -> None:
    """Manager A: a1's accounts are 75.7 m apart along the parallel, a2's row 111.2 m north."""
    await api.login("managera@x.test", world.password)
    near = {"lat": 47.101, "lon": 9.520, "radiusM": 100.0}
    got = nodes(await api.gql(LIST, first=10, orderBy="DISTANCE", filter={"near": near}))
    assert [int(n["id"]) for n in got] == world.accounts["a1"][:2]  # type: ignore[arg-type]
    assert got[0]["distanceM"] == 0.0
    assert got[1]["distanceM"] == pytest.approx(75.69, abs=0.01)
    wider = nodes(
        await api.gql(
            LIST, first=10, orderBy="DISTANCE", filter={"near": {**near, "radiusM": 120.0}}
        )
    )
    assert [int(n["id"]) for n in wider] == [  # type: ignore[arg-type]
        world.accounts["a1"][0],
        world.accounts["a1"][1],
        world.accounts["a2"][0],
    ]
    assert wider[2]["distanceM"] == pytest.approx(111.2, abs=0.1)
    # Another team's accounts never appear, however close.
    b_near = {"lat": 47.201, "lon": 9.520, "radiusM": 500.0}
    assert nodes(await api.gql(LIST, first=10, orderBy="DISTANCE", filter={"near": b_near})) == []


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({"orderBy": "DISTANCE"}, "orderBy"),
        (
            {"orderBy": "NAME", "filter": {"near": {"lat": 91.0, "lon": 9.5, "radiusM": 10.0}}},
            "filter.near.lat",
        ),
        (
            {"orderBy": "NAME", "filter": {"near": {"lat": 47.0, "lon": -181.0, "radiusM": 10.0}}},
            "filter.near.lon",
        ),
        (
            {"orderBy": "NAME", "filter": {"near": {"lat": 47.0, "lon": 9.5, "radiusM": 0.0}}},
            "filter.near.radiusM",
        ),
        (
            {"orderBy": "NAME", "filter": {"near": {"lat": 47.0, "lon": 9.5, "radiusM": 1e9}}},
            "filter.near.radiusM",
        ),
        ({"orderBy": "PRIORITY", "first": 101}, "first"),
    ],
)
async def test_bad_list_input_names_the_field(
    api: Api, world: World, variables: dict[str, object], field: str
) -> None:
    await api.login("repa1@x.test", world.password)
    body = await api.gql(LIST, **{"first": 10, **variables})
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": field}  # type: ignore[index]


async def test_team_weights_drive_the_order(api: Api, world: World, runtime: Runtime) -> None:
    """Team A weighting potential alone ranks a1's book by potential."""
    a0, a1, a2 = await stage_a1(runtime, world)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(Team)
            .where(Team.id == world.teams["A"])
            .values(
                priority_weights={
                    "overdue": 0,
                    "potential": 1,
                    "fit": 0,
                    "engagement": 0,
                    "opportunities": 0,
                }
            )
        )
    await api.login("repa1@x.test", world.password)
    got = nodes(await api.gql(LIST, first=10, orderBy="PRIORITY"))
    assert [(int(n["id"]), n["priority"]["score"]) for n in got] == [
        (a2, 100.0),
        (a1, 50.0),
        (a0, 0.0),
    ]  # type: ignore[index, arg-type]
