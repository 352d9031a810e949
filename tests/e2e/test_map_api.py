"""The map's GraphQL fields (``backend/api/map_api.py``): no browser needed."""

from __future__ import annotations

from tests.conftest import Api, World

OUTLINES = "{ territoryOutlines { territoryId repId accountCount derived geojson } }"
ROADS = """query($bbox: BBoxInput) {
  roadNetwork(bbox: $bbox) { segmentCount truncated attribution segments bounds { south north } }
}"""


async def test_rep_gets_only_their_own_territory_outline(api: Api, world: World) -> None:
    """A rep sees one outline, theirs, derived from their three accounts."""
    await api.login("repa1@x.test", world.password)
    body = await api.gql(OUTLINES)
    outlines = body["data"]["territoryOutlines"]  # type: ignore[index]
    assert [o["repId"] for o in outlines] == [str(world.reps["a1"])]
    assert outlines[0]["accountCount"] == 3
    assert outlines[0]["derived"] is True
    assert outlines[0]["geojson"]["type"] == "Polygon"


async def test_manager_gets_every_territory_of_their_team(api: Api, world: World) -> None:
    """A manager sees the outlines of their own team only."""
    await api.login("managera@x.test", world.password)
    body = await api.gql(OUTLINES)
    reps = sorted(o["repId"] for o in body["data"]["territoryOutlines"])  # type: ignore[index]
    assert reps == sorted([str(world.reps["a1"]), str(world.reps["a2"])])


async def test_map_fields_need_a_login(api: Api, world: World) -> None:
    """Anonymous callers get UNAUTHENTICATED, not data."""
    for query in (OUTLINES, ROADS):
        body = await api.gql(query)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"  # type: ignore[index]


async def test_bad_bbox_is_rejected_with_its_field(api: Api, world: World) -> None:
    """A box with south > north is BAD_USER_INPUT on bbox."""
    await api.login("repa1@x.test", world.password)
    body = await api.gql(ROADS, bbox={"south": 47.3, "west": 9.5, "north": 47.1, "east": 9.6})
    error = body["errors"][0]  # type: ignore[index]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "field": "bbox"}


async def test_road_network_is_clipped_to_the_box(api: Api, world: World) -> None:
    """The whole region has more road segments than a small box inside it; OSM is credited."""
    await api.login("repa1@x.test", world.password)
    whole = (await api.gql(ROADS))["data"]["roadNetwork"]  # type: ignore[index]
    box = {"south": 47.13, "west": 9.51, "north": 47.15, "east": 9.53}
    part = (await api.gql(ROADS, bbox=box))["data"]["roadNetwork"]  # type: ignore[index]
    assert 0 < part["segmentCount"] < whole["segmentCount"]
    assert whole["segmentCount"] == len(whole["segments"])
    assert whole["truncated"] is False
    assert whole["attribution"] == "© OpenStreetMap contributors"
