"""Relay pagination of myAccounts and its input errors."""

from __future__ import annotations

from tests.conftest import Api, World

PAGE = "query($first: Int!, $after: String) { myAccounts(first: $first, after: $after) { edges { cursor node { id name } } pageInfo { hasNextPage endCursor } totalCount } }"


async def test_pages_cover_everything_once_in_order(api: Api, world: World) -> None:
    await api.login("admin@x.test", world.password)
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await api.gql(PAGE, first=5, after=after)
        conn = body["data"]["myAccounts"]  # type: ignore[index]
        seen += [e["node"]["name"] for e in conn["edges"]]
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert pages == 3
    assert len(seen) == len(set(seen)) == 12
    assert seen == sorted(seen)


async def test_bad_page_size_and_cursor_are_typed_errors(api: Api, world: World) -> None:
    await api.login("admin@x.test", world.password)
    too_big = await api.gql(PAGE, first=101)
    assert too_big["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "first"}  # type: ignore[index]
    zero = await api.gql(PAGE, first=0)
    assert zero["errors"][0]["extensions"]["field"] == "first"  # type: ignore[index]
    bad_cursor = await api.gql(PAGE, first=5, after="not-a-cursor!")
    assert bad_cursor["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "after"}  # type: ignore[index]


async def test_malformed_id_is_bad_input(api: Api, world: World) -> None:
    await api.login("admin@x.test", world.password)
    body = await api.gql("query($id: ID!) { account(id: $id) { id } }", id="abc")
    assert body["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "id"}  # type: ignore[index]
