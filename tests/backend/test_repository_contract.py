"""Repository contract: the same behaviour on SQLite and on PostGIS (parametrized ``db_url``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from backend.auth.policy import accounts_visible_to
from backend.auth.viewer import load_viewer
from backend.db.models import Account, Alignment, AlignmentState
from backend.db.spatial import accounts_near, haversine_m
from backend.runtime import Runtime
from backend.services.alignments import assignment_of, store_alignment
from tests.conftest import World


async def test_point_round_trips_exactly(runtime: Runtime) -> None:
    """A stored (lat, lon) comes back unchanged (no axis swap, no precision loss)."""
    async with runtime.sessionmaker() as session, session.begin():
        session.add(
            Account(
                external_id="p1",
                name="P",
                lat=47.141592,
                lon=9.521234,
                location=(47.141592, 9.521234),
            )
        )
    async with runtime.sessionmaker() as session:
        location = await session.scalar(select(Account.location))
    assert location == (47.141592, 9.521234)


async def test_postgis_stores_lon_lat_order_with_srid(runtime: Runtime) -> None:
    """On PostGIS the column is a real SRID 4326 geometry with x = lon."""
    if runtime.engine.dialect.name != "postgresql":
        pytest.skip("PostGIS only")
    async with runtime.sessionmaker() as session, session.begin():
        session.add(Account(external_id="p1", name="P", lat=47.1, lon=9.5, location=(47.1, 9.5)))
    async with runtime.sessionmaker() as session:
        row = (
            await session.execute(
                text("SELECT ST_X(location), ST_Y(location), ST_SRID(location) FROM accounts")
            )
        ).one()
    assert tuple(row) == (9.5, 47.1, 4326)


async def test_external_id_is_unique(runtime: Runtime) -> None:
    """Two accounts cannot share a CRM id (re-imports update instead)."""
    async with runtime.sessionmaker() as session:
        session.add(Account(external_id="dup", name="A", lat=47.1, lon=9.5, location=(47.1, 9.5)))
        session.add(Account(external_id="dup", name="B", lat=47.1, lon=9.5, location=(47.1, 9.5)))
        with pytest.raises(IntegrityError):
            await session.commit()


async def test_accounts_near_is_exact_and_sorted(runtime: Runtime, world: World) -> None:
    """'Near me' returns exactly the visible accounts inside the radius, nearest first."""
    me = (47.101, 9.520)
    async with runtime.sessionmaker() as session:
        viewer = await load_viewer(session, world.users["ma"])
        assert viewer is not None
        hits = await accounts_near(session, *me, 160.0, accounts_visible_to(viewer))
        everything = (await session.execute(select(Account))).scalars().all()
    expected = sorted(
        (
            a.id
            for a in everything
            if a.team_id == world.teams["A"] and haversine_m(*me, a.lat, a.lon) <= 160.0
        ),
    )
    assert sorted(a.id for a, _ in hits) == expected
    assert 0 < len(expected) < 6  # the radius cuts through team A's accounts
    distances = [d for _, d in hits]
    assert distances == sorted(distances)


async def test_activating_an_alignment_archives_the_previous(
    runtime: Runtime, world: World
) -> None:
    """A team has at most one active alignment; the new one carries its own assignments."""
    team = world.teams["A"]
    a1, a2 = world.reps["a1"], world.reps["a2"]
    swapped = dict.fromkeys(world.accounts["a1"], a2) | dict.fromkeys(world.accounts["a2"], a1)
    async with runtime.sessionmaker() as session, session.begin():
        new = await store_alignment(
            session, team_id=team, name="v2", rep_of_account=swapped, state=AlignmentState.ACTIVE
        )
    async with runtime.sessionmaker() as session:
        states = dict(
            (
                await session.execute(
                    select(Alignment.id, Alignment.state).where(Alignment.team_id == team)
                )
            ).all()
        )
        assert states == {
            world.alignment_ids["A"]: AlignmentState.ARCHIVED,
            new.id: AlignmentState.ACTIVE,
        }
        assert await assignment_of(session, new.id) == swapped


async def test_store_alignment_refuses_reps_of_other_teams(runtime: Runtime, world: World) -> None:
    """An account cannot be handed to a rep outside the team."""
    async with runtime.sessionmaker() as session:
        with pytest.raises(ValueError, match="not in team"):
            await store_alignment(
                session,
                team_id=world.teams["A"],
                name="bad",
                rep_of_account={world.accounts["a1"][0]: world.reps["b1"]},
            )
