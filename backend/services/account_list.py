"""The field account list: the viewer's book scored, filtered and ordered, a page at a time.

Priority percentiles are relative to the whole book (a rep's territory, a manager's team), so
the book is scored in one pass over a narrow column set and filters apply afterwards: a tier
filter must not change what "top 10 % potential" means. "Near me" is a spatial SQL query
(``ST_DWithin`` on PostGIS, a lat/lon box on SQLite) cut exactly by haversine on both.
"""

from __future__ import annotations

import bisect
import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Account, Team
from backend.db.spatial import account_distances_within
from backend.services.priority import (
    AccountFacts,
    Priority,
    PriorityWeights,
    due_in_days,
    score_accounts,
)

log = logging.getLogger(__name__)

MAX_NEAR_RADIUS_M = 100_000.0
"""'Near me' is for the next stops, not a region scan; larger radii are refused."""


class AccountOrder(enum.StrEnum):
    """Orders of the account list."""

    NAME = "name"
    PRIORITY = "priority"
    DISTANCE = "distance"


@dataclass(frozen=True, slots=True)
class Near:
    """A circle around the caller (validated by the API layer)."""

    lat: float
    lon: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class AccountFilter:
    """Optional filters; ``None`` means 'do not filter on this'."""

    due: bool | None = None
    tier: str | None = None
    segment: str | None = None
    near: Near | None = None


SortKey = tuple[str | float | int, ...]


@dataclass(frozen=True, slots=True)
class RankedAccount:
    """One entry of a page with its sort key (also the cursor payload)."""

    id: int
    priority: Priority
    distance_m: float | None
    sort_key: SortKey


@dataclass(frozen=True, slots=True)
class AccountPage:
    """A page of the list, whether more follow, and how many match in total."""

    entries: list[RankedAccount]
    has_next: bool
    total: int


async def team_weights(
    session: AsyncSession, team_ids: Sequence[int]
) -> dict[int, PriorityWeights]:
    """Each team's priority weights; a broken setting falls back to the defaults (logged)."""
    if not team_ids:
        return {}
    rows = await session.execute(
        select(Team.id, Team.priority_weights).where(Team.id.in_(sorted(set(team_ids))))
    )
    weights: dict[int, PriorityWeights] = {}
    for team_id, raw in rows:
        try:
            weights[team_id] = PriorityWeights.from_json(raw)
        except ValueError as exc:
            log.warning("team %s has invalid priority_weights (%s); using defaults", team_id, exc)
            weights[team_id] = PriorityWeights()
    return weights


async def account_page(
    session: AsyncSession,
    visible: ColumnElement[bool],
    *,
    now: datetime,
    order: AccountOrder = AccountOrder.NAME,
    filters: AccountFilter | None = None,
    first: int = 50,
    after: SortKey | None = None,
) -> AccountPage:
    """One page of the viewer's matching accounts in ``order``, each with its priority.

    One narrow query reads the book; PRIORITY order scores the whole book, the other orders
    score only the page (against the whole book's potentials, so the numbers are identical).

    Args:
        session: Database session.
        visible: The viewer's visibility clause from :mod:`backend.auth.policy`.
        now: Scoring instant.
        order: Sort order; DISTANCE needs ``filters.near``.
        filters: Optional filters.
        first: Page size.
        after: Sort key of the previous page's last entry.
    """
    filters = filters or AccountFilter()
    connection = await session.connection()
    rows = (
        await connection.execute(
            select(
                Account.id,
                Account.team_id,
                Account.name,
                Account.tier,
                Account.segment,
                Account.potential,
                Account.engagement,
                Account.open_opportunities,
                Account.visit_cadence_days,
                Account.last_visit_at,
            ).where(visible)
        )
    ).all()
    facts: dict[int, AccountFacts] = {}
    team_of: dict[int, int | None] = {}
    potentials: dict[int | None, list[float]] = {}
    for a_id, team_id, _, tier, _, potential, engagement, opps, cadence, last in rows:
        facts[a_id] = AccountFacts(a_id, potential, tier, engagement, opps, cadence, last)
        team_of[a_id] = team_id
        potentials.setdefault(team_id, []).append(potential)
    weights = await team_weights(session, [t for t in potentials if t is not None])

    def score(ids: Sequence[int]) -> dict[int, Priority]:
        by_team: dict[int | None, list[AccountFacts]] = {}
        for a_id in ids:
            by_team.setdefault(team_of[a_id], []).append(facts[a_id])
        scored: dict[int, Priority] = {}
        for team_id, subset in by_team.items():
            scored.update(
                score_accounts(
                    subset,
                    now,
                    weights.get(team_id) if team_id is not None else None,
                    book_potentials=potentials[team_id],
                )
            )
        return scored

    distances: dict[int, float] | None = None
    if filters.near is not None:
        near = filters.near
        distances = await account_distances_within(
            session, near.lat, near.lon, near.radius_m, visible
        )
    tier = filters.tier.upper() if filters.tier else None
    matching = []
    for a_id, _, name, a_tier, segment, *_, cadence, last in rows:
        if tier is not None and (a_tier or "").upper() != tier:
            continue
        if filters.segment is not None and segment != filters.segment:
            continue
        if filters.due is not None:
            due_in = due_in_days(last, cadence, now)
            if (due_in is None or due_in <= 0) != filters.due:
                continue
        if distances is not None and a_id not in distances:
            continue
        matching.append((a_id, name))

    priorities: dict[int, Priority] = {}
    keyed: list[tuple[SortKey, int]]
    if order is AccountOrder.PRIORITY:
        priorities = score([a_id for a_id, _ in matching])
        keyed = [((-priorities[a_id].score, a_id), a_id) for a_id, _ in matching]
    elif order is AccountOrder.DISTANCE and distances is not None:
        keyed = [((round(distances[a_id], 3), a_id), a_id) for a_id, _ in matching]
    else:
        keyed = [((name, a_id), a_id) for a_id, name in matching]
    keyed.sort(key=lambda pair: pair[0])
    start = 0 if after is None else bisect.bisect_right(keyed, after, key=lambda pair: pair[0])
    window = keyed[start : start + first + 1]
    page = window[:first]
    if order is not AccountOrder.PRIORITY:
        priorities = score([a_id for _, a_id in page])
    entries = [
        RankedAccount(
            id=a_id,
            priority=priorities[a_id],
            distance_m=distances[a_id] if distances is not None else None,
            sort_key=key,
        )
        for key, a_id in page
    ]
    return AccountPage(entries=entries, has_next=len(window) > first, total=len(keyed))


__all__ = [
    "MAX_NEAR_RADIUS_M",
    "AccountFilter",
    "AccountOrder",
    "AccountPage",
    "Near",
    "RankedAccount",
    "account_page",
    "team_weights",
]
