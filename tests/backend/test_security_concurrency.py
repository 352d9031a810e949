"""Guarantees that hold under concurrency: one active alignment per team, one check-out per visit.

Races are run for real: two API clients send their requests at once (``asyncio.gather``), each
request in its own session and connection, on SQLite and on PostgreSQL (where READ COMMITTED
lets two transactions read the same row before either writes, the case that used to break).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from backend.app import create_app
from backend.db.models import Alignment, AlignmentState, OutboxEvent
from backend.runtime import Runtime
from backend.services.alignments import store_alignment
from backend.services.territories import activate_due_alignments
from tests.conftest import Api, World
from tests.factories_visits import client_id

COMMIT = (
    "mutation($id: ID!, $d: Date!) "
    "{ commitAlignment(id: $id, effectiveDate: $d) { id state effectiveDate } }"
)
CHECK_IN = "mutation($input: CheckInInput!) { checkIn(input: $input) { id } }"
CHECK_OUT = (
    "mutation($input: CheckOutInput!) "
    "{ checkOut(input: $input) { id checkOutAt checkOutNotes checkOutClientId } }"
)
TRIES = 3


@pytest.fixture
async def clients(runtime: Runtime) -> AsyncIterator[tuple[Api, Api]]:
    """Two independent clients on one app: two phones, or two manager tabs."""
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://test") as one,
        httpx.AsyncClient(transport=transport, base_url="http://test") as two,
    ):
        yield Api(one), Api(two)


async def _login_both(clients: tuple[Api, Api], email: str, world: World) -> None:
    for client in clients:
        assert (await client.login(email, world.password)).status_code == 200


async def _swapped_draft(runtime: Runtime, world: World, name: str, back: bool = False) -> int:
    """A draft of team A that swaps the accounts of its two reps (both reps get a notice), or
    with ``back`` swaps them back to the seeded v1."""
    a1, a2 = world.reps["a1"], world.reps["a2"]
    if back:
        a1, a2 = a2, a1
    swapped = dict.fromkeys(world.accounts["a1"], a2) | dict.fromkeys(world.accounts["a2"], a1)
    async with runtime.sessionmaker() as session, session.begin():
        draft = await store_alignment(
            session, team_id=world.teams["A"], name=name, rep_of_account=swapped
        )
    return draft.id


async def _active_of_team(runtime: Runtime, team_id: int) -> list[int]:
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(Alignment.id).where(
                Alignment.team_id == team_id, Alignment.state == AlignmentState.ACTIVE
            )
        )
        return sorted(rows)


async def _notices(runtime: Runtime) -> Counter[tuple[str, str]]:
    """(alignment version, rep) of every recorded territory notice, with multiplicity."""
    async with runtime.sessionmaker() as session:
        events = (await session.scalars(select(OutboxEvent))).all()
    return Counter(
        (e.payload["payload"]["alignment_version_id"], e.payload["payload"]["rep_id"])
        for e in events
    )


def _code(body: dict[str, object]) -> str | None:
    errors = body.get("errors")
    if not errors:
        return None
    return str(errors[0]["extensions"]["code"])  # type: ignore[index]


async def test_a_second_active_alignment_is_refused_by_the_database(
    runtime: Runtime, world: World
) -> None:
    """Whatever path writes it, the partial unique index refuses a second ACTIVE version."""
    async with runtime.sessionmaker() as session:
        session.add(Alignment(team_id=world.teams["A"], name="rogue", state=AlignmentState.ACTIVE))
        with pytest.raises(IntegrityError):
            await session.flush()
        await session.rollback()
        # Drafts and archived versions are unconstrained; another team's active one is fine.
        session.add_all(
            Alignment(team_id=world.teams["A"], name=f"v{n}", state=state)
            for n, state in enumerate((AlignmentState.DRAFT, AlignmentState.ARCHIVED) * 2)
        )
        await session.flush()


async def test_the_same_draft_committed_twice_at_once_wins_once(
    runtime: Runtime, world: World, clients: tuple[Api, Api]
) -> None:
    """Two concurrent commits of one draft: one ACTIVE answer, one CONFLICT, notices once."""
    await _login_both(clients, "managera@x.test", world)
    today = runtime.today().isoformat()
    for attempt in range(TRIES):
        draft = await _swapped_draft(runtime, world, f"swap {attempt}", back=attempt % 2 == 1)
        answers = await asyncio.gather(*(c.gql(COMMIT, id=str(draft), d=today) for c in clients))
        codes = sorted(str(_code(a)) for a in answers)
        assert codes == ["CONFLICT", "None"], answers
        loser = next(a for a in answers if _code(a))
        assert loser["errors"][0]["extensions"]["field"] == "id"  # type: ignore[index]
        assert await _active_of_team(runtime, world.teams["A"]) == [draft]
        notices = await _notices(runtime)
        assert {n for (v, _), n in notices.items() if v == str(draft)} == {1}
        assert sum(n for (v, _), n in notices.items() if v == str(draft)) == 2  # one per rep


@pytest.mark.parametrize("attempt", range(TRIES))
async def test_two_drafts_committed_at_once_leave_one_active(
    runtime: Runtime, world: World, clients: tuple[Api, Api], attempt: int
) -> None:
    """Two drafts of one team committed at once take turns: one active version at the end, and
    each notice describes the change against the version it really replaced, once."""
    await _login_both(clients, "managera@x.test", world)
    today = runtime.today().isoformat()
    drafts = [await _swapped_draft(runtime, world, f"d{n}.{attempt}") for n in (1, 2)]
    answers = await asyncio.gather(
        *(c.gql(COMMIT, id=str(d), d=today) for c, d in zip(clients, drafts, strict=True))
    )
    assert all(_code(a) in (None, "CONFLICT") for a in answers), answers
    winners = [d for d, a in zip(drafts, answers, strict=True) if _code(a) is None]
    active = await _active_of_team(runtime, world.teams["A"])
    assert len(active) == 1 and active[0] in winners
    notices = await _notices(runtime)
    assert set(notices.values()) == {1}
    # Both drafts swap v1's reps. Taking turns, the second replaces the first, which already
    # made the swap: nobody's accounts change again, so only the first one is announced. The
    # first to commit is the winner that is no longer active (whichever request got there).
    if len(winners) == 2:
        first = next(w for w in winners if w != active[0])
        assert {v for v, _ in notices} == {str(first)}


@pytest.mark.parametrize("delay_ms", [0, 2, 5, 10, 20])
async def test_the_activation_job_and_a_commit_at_once_leave_one_active(
    runtime: Runtime, world: World, clients: tuple[Api, Api], delay_ms: int
) -> None:
    """A scheduled version coming due while a manager activates another: one active after.

    The job starts ``delay_ms`` after the request (which has a login check and parsing ahead of
    its first write), so some runs overlap the two read-then-replace sequences exactly.
    """
    await _login_both(clients, "managera@x.test", world)
    today = runtime.today()
    tomorrow = today + timedelta(days=1)
    scheduled = await _swapped_draft(runtime, world, "scheduled")
    body = await clients[0].gql(COMMIT, id=str(scheduled), d=tomorrow.isoformat())
    assert body["data"]["commitAlignment"]["state"] == "SCHEDULED"  # type: ignore[index]
    now = await _swapped_draft(runtime, world, "now", back=True)

    async def job() -> list[int]:
        await asyncio.sleep(delay_ms / 1000)
        async with runtime.sessionmaker() as session, session.begin():
            return await activate_due_alignments(session, tomorrow)

    committed, activated = await asyncio.gather(
        clients[1].gql(COMMIT, id=str(now), d=today.isoformat()), job()
    )
    assert activated == [scheduled]
    assert _code(committed) is None, committed
    assert len(await _active_of_team(runtime, world.teams["A"])) == 1
    assert set((await _notices(runtime)).values()) == {1}


async def test_concurrent_check_outs_keep_the_first_and_refuse_the_rest(
    runtime: Runtime, world: World, clients: tuple[Api, Api]
) -> None:
    """Different client ids closing one visit at once: one success, the other CONFLICT, and the
    stored check-out is the winner's (not the last writer's)."""
    await _login_both(clients, "repa1@x.test", world)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    for attempt in range(TRIES):
        visit = client_id()
        checked_in = await clients[0].gql(
            CHECK_IN,
            input={
                "clientId": visit,
                "accountId": str(world.accounts["a1"][0]),
                "at": start.isoformat(),
                "position": {"lat": 47.101, "lon": 9.520},
            },
        )
        assert _code(checked_in) is None, checked_in
        outs = [
            {
                "clientId": client_id(),
                "visitClientId": visit,
                "at": (start + timedelta(minutes=30 + n)).isoformat(),
                "notes": f"phone {n} try {attempt}",
            }
            for n in range(2)
        ]
        answers = await asyncio.gather(
            *(c.gql(CHECK_OUT, input=o) for c, o in zip(clients, outs, strict=True))
        )
        assert sorted(str(_code(a)) for a in answers) == ["CONFLICT", "None"], answers
        [winner] = [a["data"]["checkOut"] for a in answers if _code(a) is None]  # type: ignore[index]
        loser = next(a for a in answers if _code(a))
        assert loser["errors"][0]["extensions"]["field"] == "visitClientId"  # type: ignore[index]
        # The stored check-out is the one that was answered success.
        again = await clients[0].gql(
            CHECK_OUT,
            input=next(o for o in outs if o["clientId"] == winner["checkOutClientId"]),
        )
        assert again["data"]["checkOut"] == winner  # type: ignore[index]


async def test_the_same_check_out_sent_twice_at_once_is_one_success(
    runtime: Runtime, world: World, clients: tuple[Api, Api]
) -> None:
    """A resend racing the original (same client id, same content) is idempotent success."""
    await _login_both(clients, "repa1@x.test", world)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    visit = client_id()
    await clients[0].gql(
        CHECK_IN,
        input={
            "clientId": visit,
            "accountId": str(world.accounts["a1"][1]),
            "at": start.isoformat(),
            "position": {"lat": 47.101, "lon": 9.521},
        },
    )
    out = {
        "clientId": client_id(),
        "visitClientId": visit,
        "at": (start + timedelta(minutes=20)).isoformat(),
        "notes": "done",
    }
    answers = await asyncio.gather(*(c.gql(CHECK_OUT, input=out) for c in clients))
    assert [_code(a) for a in answers] == [None, None], answers
    assert answers[0]["data"] == answers[1]["data"]
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(OutboxEvent)) == 0
