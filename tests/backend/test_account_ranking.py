"""The account list ranks in SQL exactly as the planner's Python score does (both backends).

The list orders and pages in the database and scores the page with ``score_in_book``; these
tests compare every page, walked by cursor, with a reference built from ``score_accounts`` over
the whole book in Python, on books made to be awkward: ties, day boundaries to the microsecond,
scores on rounding midpoints, odd tiers and names, teams with their own weights, no team.
They also check that what changes an account's rank (a visit, a reassignment, new weights)
shows in the very next list.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from backend.auth import policy
from backend.auth.viewer import Viewer
from backend.db.models import Account, AlignmentState, Role, Team
from backend.runtime import Runtime
from backend.services import dayplan
from backend.services.account_list import (
    STATEMENT_CACHE,
    AccountFilter,
    AccountOrder,
    account_page,
)
from backend.services.alignments import store_alignment
from backend.services.priority import (
    AccountFacts,
    PriorityWeights,
    due_in_days,
    score_accounts,
)
from tests.conftest import Api, World
from tests.factories_visits import client_id

NOW = datetime(2026, 11, 24, 9, 30, 12, 345678, tzinfo=UTC)
NAMES = ["apple", "Apple", "Äpfel", "zebra", "Zebra", "ω shop", "Ω shop", "a b", "ab", "a-b", "ä"]
TIERS = ["A", "a", "B", "c", "C", "D", "", None, "Z"]
MIDPOINT_WEIGHTS = {
    "overdue": 0,
    "potential": 0,
    "fit": 1,
    "engagement": 0,
    "opportunities": 0,
    # 100 * fit lands on a rounding midpoint: 0.005, 0.015, 0.025 (Python rounds by the binary
    # value: 0.01, 0.01, 0.03), so these scores go through the exact re-ranking.
    "tier_fit": {"A": 0.00005, "B": 0.00015, "C": 0.00025, "D": 0.0003},
}
CUSTOM_WEIGHTS = {
    "overdue": 0.3,
    "potential": 0.3,
    "fit": 0.2,
    "engagement": 0.1,
    "opportunities": 0.1,
    "tier_fit": {"A": 0.9, "B": 0.45, "c": 0.2},
}


@dataclass
class Book:
    """Seeded accounts with the facts the reference needs."""

    teams: dict[str, int]
    rows: list[dict[str, Any]]


def _last_visit(rng: random.Random) -> datetime | None:
    kind = rng.randrange(6)
    if kind == 0:
        return None
    days = rng.randrange(0, 90)
    if kind == 1:  # exactly on a day boundary of the scoring instant, or a microsecond off
        return NOW - timedelta(days=days, microseconds=rng.choice((-1, 0, 1)))
    if kind == 2:
        return NOW + timedelta(hours=rng.randrange(1, 30))  # in the future: clamped to 0 days
    return NOW - timedelta(
        days=days, seconds=rng.randrange(86_400), microseconds=rng.randrange(10**6)
    )


async def _seed_book(runtime: Runtime, seed: int) -> Book:
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    async with runtime.sessionmaker() as session, session.begin():
        teams = {
            "mid": Team(name="Midpoints", timezone="UTC", priority_weights=MIDPOINT_WEIGHTS),
            "custom": Team(name="Custom", timezone="UTC", priority_weights=CUSTOM_WEIGHTS),
            "default": Team(name="Default", timezone="UTC"),
        }
        session.add_all(teams.values())
        await session.flush()
        team_ids: list[int | None] = [t.id for t in teams.values()] + [None]
        for n in range(130):
            team_id = team_ids[n % 4] if n < 126 else None
            lat, lon = 47.1 + rng.random() * 0.05, 9.5 + rng.random() * 0.05
            row = {
                "external_id": f"rank-{seed}-{n}",
                "team_id": team_id,
                "name": rng.choice(NAMES) + (f" {n % 3}" if rng.random() < 0.5 else ""),
                "lat": lat,
                "lon": lon,
                "location": (lat, lon),
                "segment": rng.choice(["retail", "pharma", None]),
                "tier": rng.choice(TIERS),
                "potential": float(rng.choice([0, 0, 100, 250, 250, 1000, rng.uniform(0, 5000)])),
                "visit_cadence_days": rng.choice([0, 1, 7, 14, 30, 32]),
                "engagement": rng.choice([-0.5, 0.0, 0.3, 0.5, 0.75, 1.0, 1.7]),
                "open_opportunities": rng.choice([-1, 0, 1, 2, 3, 5]),
                "last_visit_at": _last_visit(rng),
            }
            account = Account(**row)
            session.add(account)
            await session.flush()
            rows.append({**row, "id": account.id})
    return Book(teams={k: t.id for k, t in teams.items()}, rows=rows)


def _reference(
    book: Book,
    visible: list[dict[str, Any]],
    weights: dict[int, PriorityWeights],
    order: AccountOrder,
    filters: AccountFilter,
) -> list[tuple[int, float, tuple[str, ...], int, int | None]]:
    """The list as the old whole-book Python path defined it."""
    by_team: dict[int | None, list[dict[str, Any]]] = {}
    for row in visible:
        by_team.setdefault(row["team_id"], []).append(row)
    scored = {}
    for team_id, rows in by_team.items():
        facts = [
            AccountFacts(
                id=r["id"],
                potential=r["potential"],
                tier=r["tier"],
                engagement=r["engagement"],
                open_opportunities=r["open_opportunities"],
                cadence_days=r["visit_cadence_days"],
                last_visit_at=r["last_visit_at"],
            )
            for r in rows
        ]
        scored.update(score_accounts(facts, NOW, weights.get(team_id) if team_id else None))
    matching = []
    for r in visible:
        if filters.tier is not None and (r["tier"] or "").upper() != filters.tier.upper():
            continue
        if filters.segment is not None and r["segment"] != filters.segment:
            continue
        if filters.due is not None:
            due_in = due_in_days(r["last_visit_at"], r["visit_cadence_days"], NOW)
            if (due_in is None or due_in <= 0) != filters.due:
                continue
        matching.append(r)
    if order is AccountOrder.PRIORITY:
        matching.sort(key=lambda r: (-scored[r["id"]].score, r["id"]))
    else:
        matching.sort(key=lambda r: (r["name"], r["id"]))
    return [
        (
            r["id"],
            scored[r["id"]].score,
            scored[r["id"]].reasons,
            scored[r["id"]].penalty,
            scored[r["id"]].due_in_days,
        )
        for r in matching
    ]


async def _walk(
    runtime: Runtime,
    viewer: Viewer,
    order: AccountOrder,
    filters: AccountFilter,
    first: int,
) -> tuple[list[tuple[int, float, tuple[str, ...], int, int | None]], int]:
    seen: list[tuple[int, float, tuple[str, ...], int, int | None]] = []
    after = None
    for _ in range(200):
        async with runtime.sessionmaker() as session:
            page = await account_page(
                session,
                policy.accounts_visible_to(viewer),
                now=NOW,
                order=order,
                filters=filters,
                first=first,
                after=after,
                teams=policy.teams_visible_to(viewer),
            )
        seen += [
            (
                e.id,
                e.priority.score,
                e.priority.reasons,
                e.priority.penalty,
                e.priority.due_in_days,
            )
            for e in page.entries
        ]
        assert len(page.entries) <= first
        if not page.has_next:
            return seen, page.total
        after = page.entries[-1].sort_key
    raise AssertionError("the cursor walk did not end")


@pytest.mark.parametrize("seed", [1, 2])
async def test_sql_ranking_equals_the_python_score_page_by_page(
    runtime: Runtime, seed: int
) -> None:
    """Every page, walked by cursor, equals the whole-book Python reference, for an admin
    (three teams with their own weights, and accounts of no team) and for a manager."""
    book = await _seed_book(runtime, seed)
    weights = {
        book.teams["mid"]: PriorityWeights.from_json(MIDPOINT_WEIGHTS),
        book.teams["custom"]: PriorityWeights.from_json(CUSTOM_WEIGHTS),
        book.teams["default"]: PriorityWeights(),
    }
    admin = Viewer(user_id=1, role=Role.ADMIN, team_id=None, rep_id=None, email="a@x.test")
    manager = Viewer(
        user_id=2, role=Role.MANAGER, team_id=book.teams["mid"], rep_id=None, email="m@x.test"
    )
    cases = [
        (AccountOrder.PRIORITY, AccountFilter()),
        (AccountOrder.NAME, AccountFilter()),
        (AccountOrder.PRIORITY, AccountFilter(due=True)),
        (AccountOrder.PRIORITY, AccountFilter(due=False, tier="a")),
        (AccountOrder.NAME, AccountFilter(segment="retail", tier="B")),
    ]
    for viewer, visible in (
        (admin, book.rows),
        (manager, [r for r in book.rows if r["team_id"] == book.teams["mid"]]),
    ):
        for order, filters in cases:
            expected = _reference(book, visible, weights, order, filters)
            for first in (1, 7, 100):
                got, total = await _walk(runtime, viewer, order, filters, first)
                assert got == expected, (viewer.role, order, filters, first)
                assert total == len(expected)


async def test_midpoint_scores_are_ranked_by_pythons_round(runtime: Runtime) -> None:
    """Scores of 0.005 / 0.015 / 0.025 round to 0.01 / 0.01 / 0.03 (binary values): ties break
    by id only where Python's rounding says they tie."""
    book = await _seed_book(runtime, 3)
    manager = Viewer(
        user_id=2, role=Role.MANAGER, team_id=book.teams["mid"], rep_id=None, email="m@x.test"
    )
    got, _ = await _walk(runtime, manager, AccountOrder.PRIORITY, AccountFilter(), 2)
    scores = {account_id: score for account_id, score, *_ in got}
    tiers = {r["id"]: (r["tier"] or "").upper() for r in book.rows}
    assert {scores[i] for i in scores if tiers[i] == "A"} <= {0.01}
    assert {scores[i] for i in scores if tiers[i] == "B"} <= {0.01}
    assert {scores[i] for i in scores if tiers[i] == "C"} <= {0.03}
    assert list(scores.values()) == sorted(scores.values(), reverse=True)


LIST = """query($orderBy: AccountOrderBy!) {
  myAccounts(first: 10, orderBy: $orderBy) {
    totalCount edges { node { id priority { score reasons penalty dueInDays } } } } }"""
CHECK_IN = """mutation($input: CheckInInput!) { checkIn(input: $input) { id } }"""


def _ids(body: dict[str, Any]) -> list[int]:
    assert "errors" not in body, body
    return [int(e["node"]["id"]) for e in body["data"]["myAccounts"]["edges"]]


async def _stage(runtime: Runtime, world: World) -> list[int]:
    """a1's accounts: 40 days since the last visit, 20 days, 5 days (30-day cadence)."""
    now = datetime.now(UTC)
    ids = world.accounts["a1"]
    async with runtime.sessionmaker() as session, session.begin():
        for account_id, days in zip(ids, (40, 20, 5), strict=True):
            await session.execute(
                update(Account)
                .where(Account.id == account_id)
                .values(last_visit_at=now - timedelta(days=days, hours=1), potential=1000.0)
            )
    return ids


async def test_a_visit_changes_the_ranking_at_once(
    api: Api, world: World, runtime: Runtime
) -> None:
    overdue, middle, fresh = await _stage(runtime, world)
    await api.login("repa1@x.test", world.password)
    assert _ids(await api.gql(LIST, orderBy="PRIORITY")) == [overdue, middle, fresh]
    body = await api.gql(
        CHECK_IN,
        input={
            "clientId": client_id(),
            "accountId": str(overdue),
            "at": datetime.now(UTC).isoformat(),
            "position": {"lat": 47.101, "lon": 9.52},
        },
    )
    assert "errors" not in body, body
    after = await api.gql(LIST, orderBy="PRIORITY")
    assert _ids(after) == [middle, fresh, overdue]
    visited = after["data"]["myAccounts"]["edges"][-1]["node"]["priority"]  # type: ignore[index]
    assert visited["dueInDays"] == 30 and "overdue" not in " ".join(visited["reasons"])


async def test_a_reassignment_moves_the_account_between_lists_at_once(
    api: Api, world: World, runtime: Runtime
) -> None:
    moved = world.accounts["a1"][0]
    await api.login("repa1@x.test", world.password)
    assert moved in _ids(await api.gql(LIST, orderBy="PRIORITY"))
    async with runtime.sessionmaker() as session, session.begin():
        rep_of = dict.fromkeys(world.accounts["a1"], world.reps["a1"])
        rep_of |= dict.fromkeys(world.accounts["a2"], world.reps["a2"])
        rep_of[moved] = world.reps["a2"]
        await store_alignment(
            session,
            team_id=world.teams["A"],
            name="Team A v2",
            rep_of_account=rep_of,
            state=AlignmentState.ACTIVE,
        )
    assert moved not in _ids(await api.gql(LIST, orderBy="PRIORITY"))
    assert _ids(await api.gql(LIST, orderBy="NAME")) == world.accounts["a1"][1:]
    await api.login("repa2@x.test", world.password)
    assert moved in _ids(await api.gql(LIST, orderBy="PRIORITY"))


async def test_new_team_weights_apply_to_the_next_list(
    api: Api, world: World, runtime: Runtime
) -> None:
    overdue, middle, fresh = await _stage(runtime, world)
    await set_potentials(runtime, {overdue: 1.0, middle: 2.0, fresh: 3.0})
    await api.login("repa1@x.test", world.password)
    for only, order in (
        ("overdue", [overdue, middle, fresh]),
        ("potential", [fresh, middle, overdue]),
    ):
        weights = dict.fromkeys(("overdue", "potential", "fit", "engagement", "opportunities"), 0)
        async with runtime.sessionmaker() as session, session.begin():
            await session.execute(
                update(Team)
                .where(Team.id == world.teams["A"])
                .values(priority_weights=weights | {only: 1})
            )
        assert _ids(await api.gql(LIST, orderBy="PRIORITY")) == order, only


async def set_potentials(runtime: Runtime, potentials: dict[int, float]) -> None:
    async with runtime.sessionmaker() as session, session.begin():
        for account_id, potential in potentials.items():
            await session.execute(
                update(Account).where(Account.id == account_id).values(potential=potential)
            )


async def test_the_list_shows_the_planners_scores_and_penalties(
    api: Api, world: World, runtime: Runtime
) -> None:
    """The day planner's candidates carry the same score, reasons and drop penalty as the list."""
    await _stage(runtime, world)
    await set_potentials(runtime, dict(zip(world.accounts["a1"], (5.0, 1.0, 9.0), strict=True)))
    await api.login("repa1@x.test", world.password)
    body = await api.gql(LIST, orderBy="PRIORITY")
    listed = [e["node"] for e in body["data"]["myAccounts"]["edges"]]  # type: ignore[index]
    async with runtime.sessionmaker() as session:
        inputs = await dayplan._load_inputs(session, world.reps["a1"], datetime.now(UTC))
    planned = inputs.scores
    assert [int(n["id"]) for n in listed] == sorted(planned, key=lambda a: (-planned[a].score, a))
    for node in listed:
        priority = planned[int(node["id"])]
        assert node["priority"] == {
            "score": priority.score,
            "reasons": list(priority.reasons),
            "penalty": priority.penalty,
            "dueInDays": priority.due_in_days,
        }


async def test_one_statement_serves_every_viewer_with_their_own_book(
    api: Api, world: World
) -> None:
    """The ranking statement is built once per shape and holds nothing of a viewer: two reps
    share it, and each still sees exactly their own territory."""
    STATEMENT_CACHE.clear()
    await api.login("repa1@x.test", world.password)
    first = _ids(await api.gql(LIST, orderBy="PRIORITY"))
    assert len(STATEMENT_CACHE) == 1
    await api.login("repa2@x.test", world.password)
    other = _ids(await api.gql(LIST, orderBy="PRIORITY"))
    await api.login("repb1@x.test", world.password)
    third = _ids(await api.gql(LIST, orderBy="PRIORITY"))
    assert len(STATEMENT_CACHE) == 1
    assert sorted(first) == world.accounts["a1"]
    assert sorted(other) == world.accounts["a2"]
    assert sorted(third) == world.accounts["b1"]
