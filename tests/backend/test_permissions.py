"""Permission matrix: who sees which accounts, reps and teams (both backends)."""

from __future__ import annotations

import pytest

from tests.conftest import Api, World

ACCOUNTS = "query($after: String) { myAccounts(first: 100, after: $after) { totalCount edges { node { id } } } }"
ACCOUNT = "query($id: ID!) { account(id: $id) { id name } }"
TEAMS = "{ teams { id } }"
REPS = "{ reps { id } }"

# viewer -> the account owners whose accounts they may read
CAN_READ = {
    "a1": {"a1"},
    "a2": {"a2"},
    "b1": {"b1"},
    "ma": {"a1", "a2"},
    "mb": {"b1", "b2"},
    "admin": {"a1", "a2", "b1", "b2"},
}
EMAIL = {
    "a1": "repa1@x.test",
    "a2": "repa2@x.test",
    "b1": "repb1@x.test",
    "ma": "managera@x.test",
    "mb": "managerb@x.test",
    "admin": "admin@x.test",
}


@pytest.mark.parametrize("viewer", sorted(CAN_READ))
async def test_account_visibility_matrix(api: Api, world: World, viewer: str) -> None:
    """myAccounts lists exactly what the viewer may read; account(id) of anything else is NOT_FOUND."""
    assert (await api.login(EMAIL[viewer], world.password)).status_code == 200
    body = await api.gql(ACCOUNTS)
    listed = {int(e["node"]["id"]) for e in body["data"]["myAccounts"]["edges"]}  # type: ignore[index]
    allowed = {a for owner in CAN_READ[viewer] for a in world.accounts[owner]}
    assert listed == allowed
    assert body["data"]["myAccounts"]["totalCount"] == len(allowed)  # type: ignore[index]
    for owner, ids in world.accounts.items():
        for account_id in ids:
            result = await api.gql(ACCOUNT, id=str(account_id))
            if owner in CAN_READ[viewer]:
                assert result["data"]["account"]["id"] == str(account_id)  # type: ignore[index]
            else:
                assert result["data"] is None
                assert result["errors"][0]["extensions"] == {"code": "NOT_FOUND", "field": "id"}  # type: ignore[index]


async def test_foreign_id_answers_like_a_missing_id(api: Api, world: World) -> None:
    """Another team's account and a non-existent one give the same error text shape."""
    await api.login(EMAIL["a1"], world.password)
    foreign = await api.gql(ACCOUNT, id=str(world.accounts["b1"][0]))
    missing = await api.gql(ACCOUNT, id="999999")
    assert foreign["errors"][0]["extensions"] == missing["errors"][0]["extensions"]  # type: ignore[index]
    assert foreign["errors"][0]["message"].replace(str(world.accounts["b1"][0]), "N") == missing[
        "errors"
    ][0]["message"].replace("999999", "N")  # type: ignore[index]


@pytest.mark.parametrize(
    ("viewer", "teams", "reps"),
    [
        ("a1", {"A"}, {"a1"}),
        ("ma", {"A"}, {"a1", "a2"}),
        ("mb", {"B"}, {"b1", "b2"}),
        ("admin", {"A", "B"}, {"a1", "a2", "b1", "b2"}),
    ],
)
async def test_team_and_rep_visibility(
    api: Api, world: World, viewer: str, teams: set[str], reps: set[str]
) -> None:
    await api.login(EMAIL[viewer], world.password)
    got_teams = {int(t["id"]) for t in (await api.gql(TEAMS))["data"]["teams"]}  # type: ignore[index]
    got_reps = {int(r["id"]) for r in (await api.gql(REPS))["data"]["reps"]}  # type: ignore[index]
    assert got_teams == {world.teams[t] for t in teams}
    assert got_reps == {world.reps[r] for r in reps}


async def test_my_territory_is_the_reps_active_territory(api: Api, world: World) -> None:
    await api.login(EMAIL["a2"], world.password)
    body = await api.gql("{ myTerritory { repId accountCount alignment { state id } } }")
    assert body["data"]["myTerritory"] == {  # type: ignore[index]
        "repId": str(world.reps["a2"]),
        "accountCount": 3,
        "alignment": {"state": "ACTIVE", "id": str(world.alignment_ids["A"])},
    }
