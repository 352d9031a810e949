"""The field account list: the viewer's book scored, filtered and ordered, a page at a time.

The database ranks the book and returns one page; Python scores only that page. Priority
percentiles are relative to the whole book (a rep's territory, a manager's team), so they are
window functions over the book (``rank()`` and ``count()`` per team) computed before any filter
applies: a tier filter must not change what "top 10 % potential" means. PRIORITY order is the
SQL twin of the planner's score (:func:`backend.services.priority.score_sql`); the scores,
reasons and penalties on the page come from :func:`backend.services.priority.score_in_book`,
the function the day planner uses, so the list and the route agree. "Near me" is a spatial SQL
query (``ST_DWithin`` on PostGIS, a lat/lon box on SQLite) cut exactly by haversine on both.

A request reads the team weights (a primary-key lookup), then the page (one statement).
Building the ranking part of that statement costs SQLAlchemy milliseconds, so it is built once
per shape (weights, order, filters, page size) over a table named ``book`` and kept in a small
per-process LRU; each request attaches its viewer's book (the policy's visibility clause) as the
CTE of that name, and binds the scoring instant and the cursor. Nothing about the data is
cached: a visit, a reassignment or new weights show in the next list.
"""

from __future__ import annotations

import bisect
import enum
import logging
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Integer,
    Row,
    Select,
    String,
    Subquery,
    and_,
    bindparam,
    cast,
    column,
    func,
    or_,
    select,
    table,
    true,
)
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Account, Team
from backend.db.spatial import account_distances_within
from backend.services.priority import (
    AccountFacts,
    BookColumns,
    Priority,
    PriorityWeights,
    rank_sql,
    score_in_book,
    score_params,
    score_sql,
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
class AccountSummary:
    """What the list shows of an account (plain values, read with the page)."""

    id: int
    external_id: str
    team_id: int | None
    name: str
    address: str | None
    lat: float
    lon: float
    segment: str | None
    tier: str | None
    potential: float
    visit_cadence_days: int
    visit_duration_min: int
    opening_hours: str | None
    engagement: float
    open_opportunities: int
    last_visit_at: datetime | None


@dataclass(frozen=True, slots=True)
class RankedAccount:
    """One entry of a page with its sort key (also the cursor payload)."""

    id: int
    priority: Priority
    distance_m: float | None
    sort_key: SortKey
    account: AccountSummary


@dataclass(frozen=True, slots=True)
class AccountPage:
    """A page of the list, whether more follow, and how many match in total."""

    entries: list[RankedAccount]
    has_next: bool
    total: int


def parse_weights(team_id: int, raw: Any) -> PriorityWeights:
    """A team's weights from its setting; a broken setting falls back to the defaults (logged)."""
    try:
        return PriorityWeights.from_json(raw)
    except ValueError as exc:
        log.warning("team %s has invalid priority_weights (%s); using defaults", team_id, exc)
        return PriorityWeights()


async def team_weights(
    session: AsyncSession, teams: ColumnElement[bool] | Sequence[int]
) -> dict[int, PriorityWeights]:
    """Priority weights of the teams matching ``teams`` (a WHERE clause over Team, or ids)."""
    if not isinstance(teams, ColumnElement):
        if not teams:
            return {}
        teams = Team.id.in_(sorted(set(teams)))
    rows = await session.execute(select(Team.id, Team.priority_weights).where(teams))
    return {team_id: parse_weights(team_id, raw) for team_id, raw in rows}


_SUMMARY_COLUMNS = (
    Account.id,
    Account.external_id,
    Account.team_id,
    Account.name,
    Account.address,
    Account.lat,
    Account.lon,
    Account.segment,
    Account.tier,
    Account.potential,
    Account.visit_cadence_days,
    Account.visit_duration_min,
    Account.opening_hours,
    Account.engagement,
    Account.open_opportunities,
    Account.last_visit_at,
)
_BOOK_COLUMNS = (
    Account.id,
    Account.team_id,
    Account.name,
    Account.segment,
    Account.tier,
    Account.potential,
    Account.visit_cadence_days,
    Account.engagement,
    Account.open_opportunities,
    Account.last_visit_at,
)
"""What ranking and filtering read: the book stays narrow, the page joins the rest."""


_BOOK = table(
    "book",
    *(column(c.key, c.type) for c in _BOOK_COLUMNS),
    column("below", Integer()),
    column("book_size", Integer()),
)
"""The viewer's book as the ranking statements see it: a name, bound per request to a CTE."""


def _book(visible: ColumnElement[bool]) -> CTE:
    """The viewer's book: one row per visible account with its rank in its team's potentials.

    Named ``book`` like :data:`_BOOK`: the statements below are built once over that name, and
    each request attaches its viewer's book with ``add_cte``.
    """
    return (
        select(
            *_BOOK_COLUMNS,
            (func.rank().over(partition_by=Account.team_id, order_by=Account.potential) - 1).label(
                "below"
            ),
            func.count().over(partition_by=Account.team_id).label("book_size"),
        )
        .where(visible)
        .cte("book")
    )


@dataclass(frozen=True, slots=True)
class _Statements:
    """What one shape of request runs over :data:`_BOOK` (attach the viewer's book to run).

    Attributes:
        page: The page: ``first + 1`` rows after the cursor, in order, with the total (PRIORITY
            also with the count of midpoint scores); DISTANCE: the rows of ``page_ids``.
        matching: The filtered book as a subquery, for the rare follow-up queries.
        circle: DISTANCE with filters: the ids of ``near_ids`` that pass the filters.
    """

    page: Select[*tuple[Any, ...]]
    matching: Subquery | None = None
    circle: Select[*tuple[Any, ...]] | None = None


class _StatementCache:
    """A small LRU of built statements, keyed by everything their SQL depends on."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, _Statements] = OrderedDict()

    def get(self, key: Hashable, build: Callable[[], _Statements]) -> _Statements:
        found = self._items.get(key)
        if found is None:
            found = self._items[key] = build()
            if len(self._items) > self.size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return found

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        self._items.clear()


_DEFAULT = PriorityWeights().signature()
STATEMENT_CACHE = _StatementCache(size=64)
"""Ranking statements per process, by shape: dialect, weights, order, filters, page size,
cursor or not. Nothing of a viewer is in them (their book is attached per request)."""


def _with_summary(rows: Subquery, *extra: str) -> Select[*tuple[Any, ...]]:
    """The accounts of ``rows`` (a subquery with ``id``, ``below``, ``book_size``) with what the
    list shows of them, in :func:`_entry`'s column order."""
    r = rows.c
    return select(*_SUMMARY_COLUMNS, r.below, r.book_size, *(r[name] for name in extra)).join_from(
        rows, Account, Account.id == r.id
    )


def _build(
    weights: dict[int, PriorityWeights],
    dialect: str,
    order: AccountOrder,
    filters: AccountFilter,
    first: int,
    *,
    cursor: bool,
) -> _Statements:
    c = _BOOK.c
    score = score_sql(
        BookColumns(
            team_id=c.team_id,
            potential=c.potential,
            tier=c.tier,
            engagement=c.engagement,
            open_opportunities=c.open_opportunities,
            cadence_days=c.visit_cadence_days,
            last_visit_at=c.last_visit_at,
            below=c.below,
            book_size=c.book_size,
        ),
        dialect,
        weights,
    )
    clauses: list[ColumnElement[bool]] = []
    if filters.tier:
        clauses.append(func.upper(func.coalesce(c.tier, "")) == filters.tier.upper())
    if filters.segment is not None:
        clauses.append(c.segment == filters.segment)
    if filters.due is not None:
        due = or_(c.last_visit_at.is_(None), score.due_in_days <= 0)
        clauses.append(due if filters.due else ~due)
    near_ids = c.id.in_(bindparam("near_ids", expanding=True))
    if order is AccountOrder.DISTANCE:
        page = _with_summary(
            select(c.id, c.below, c.book_size)
            .where(c.id.in_(bindparam("page_ids", expanding=True)))
            .subquery("page")
        )
        circle = select(c.id).where(*clauses, near_ids) if clauses else None
        return _Statements(page=page, circle=circle)
    if filters.near is not None:
        clauses.append(near_ids)
    # Each layer carries only what the next one reads: SQLAlchemy builds every column of every
    # layer, and that, not the database, is what a new statement costs.
    total = func.count().over().label("total")
    if order is AccountOrder.PRIORITY:
        scored = (
            select(c.id, c.below, c.book_size, score.score.label("score"), total)
            .where(*clauses)
            .subquery("scored")
        )
        s_ = scored.c
        hundredths, near_midpoint = rank_sql(s_.score, dialect)
        matching = select(
            s_.id,
            s_.below,
            s_.book_size,
            s_.total,
            hundredths.label("hundredths"),
            near_midpoint.label("near_midpoint"),
            func.sum(cast(near_midpoint, Integer())).over().label("midpoints"),
        ).subquery("matching")
        m = matching.c
        ranked = select(matching).where(~m.near_midpoint).order_by(m.hundredths.desc(), m.id)
        if cursor:
            after_key = bindparam("after_hundredths", type_=Integer())
            ranked = ranked.where(
                or_(
                    m.hundredths < after_key,
                    and_(m.hundredths == after_key, m.id > bindparam("after_id", type_=Integer())),
                )
            )
        limited = ranked.limit(first + 1).subquery("page")
        page = _with_summary(limited, "total", "midpoints").order_by(
            limited.c.hundredths.desc(), limited.c.id
        )
    else:
        matching = (
            select(c.id, c.name, c.below, c.book_size, total).where(*clauses).subquery("matching")
        )
        m = matching.c

        def by_name(name: ColumnElement[Any]) -> ColumnElement[Any]:
            # Code-point order, as Python sorts strings (not PostgreSQL's default collation).
            return name.collate("C") if dialect == "postgresql" else name

        ranked = select(matching).order_by(by_name(m.name), m.id)
        if cursor:
            after_name = bindparam("after_name", type_=String())
            ranked = ranked.where(
                or_(
                    by_name(m.name) > after_name,
                    and_(
                        by_name(m.name) == after_name,
                        m.id > bindparam("after_id", type_=Integer()),
                    ),
                )
            )
        limited = ranked.limit(first + 1).subquery("page")
        page = _with_summary(limited, "total").order_by(by_name(limited.c.name), limited.c.id)
    return _Statements(page=page, matching=matching)


def _entry(
    row: Row[Any],
    weights: dict[int, PriorityWeights],
    now: datetime,
    distances: dict[int, float] | None,
    order: AccountOrder,
) -> RankedAccount:
    """A page entry from a book row, scored by the planner's own function."""
    n = len(_SUMMARY_COLUMNS)
    summary = AccountSummary(*row[:n])
    below, book_size = row[n], row[n + 1]
    facts = AccountFacts(
        id=summary.id,
        potential=summary.potential,
        tier=summary.tier,
        engagement=summary.engagement,
        open_opportunities=summary.open_opportunities,
        cadence_days=summary.visit_cadence_days,
        last_visit_at=summary.last_visit_at,
    )
    team_weights = weights.get(summary.team_id) if summary.team_id is not None else None
    priority = score_in_book(facts, now, team_weights, below=below, book_size=book_size)
    distance = distances[summary.id] if distances is not None else None
    key: SortKey
    if order is AccountOrder.PRIORITY:
        key = (-priority.score, summary.id)
    elif order is AccountOrder.DISTANCE:
        assert distance is not None
        key = (round(distance, 3), summary.id)
    else:
        key = (summary.name, summary.id)
    return RankedAccount(
        id=summary.id, priority=priority, distance_m=distance, sort_key=key, account=summary
    )


async def account_page(
    session: AsyncSession,
    visible: ColumnElement[bool],
    *,
    now: datetime,
    order: AccountOrder = AccountOrder.NAME,
    filters: AccountFilter | None = None,
    first: int = 50,
    after: SortKey | None = None,
    teams: ColumnElement[bool] | None = None,
) -> AccountPage:
    """One page of the viewer's matching accounts in ``order``, each with its priority.

    Args:
        session: Database session.
        visible: The viewer's visibility clause over Account from :mod:`backend.auth.policy`.
        now: Scoring instant.
        order: Sort order; DISTANCE needs ``filters.near``.
        filters: Optional filters.
        first: Page size.
        after: Sort key of the previous page's last entry.
        teams: A WHERE clause over Team covering the teams of the visible accounts (the
            policy's ``teams_visible_to``); every team's weights are read when omitted.
    """
    filters = filters or AccountFilter()
    dialect = session.get_bind().dialect.name
    weights = await team_weights(session, teams if teams is not None else true())
    key = (
        dialect,
        # Teams on the default weights leave no trace in the SQL (see score_sql).
        tuple(sorted((t, w.signature()) for t, w in weights.items() if w.signature() != _DEFAULT)),
        order,
        (filters.due, filters.tier, filters.segment, filters.near is not None),
        first,
        after is not None,
    )
    statements = STATEMENT_CACHE.get(
        key, lambda: _build(weights, dialect, order, filters, first, cursor=after is not None)
    )
    book = _book(visible)
    params = score_params(now, dialect)

    distances: dict[int, float] | None = None
    if filters.near is not None:
        near = filters.near
        distances = await account_distances_within(
            session, near.lat, near.lon, near.radius_m, visible
        )
        if distances and statements.circle is not None:
            kept = await session.scalars(
                statements.circle.add_cte(book), {**params, "near_ids": sorted(distances)}
            )
            distances = {a_id: distances[a_id] for a_id in kept}
        if not distances:
            return AccountPage(entries=[], has_next=False, total=0)
        params["near_ids"] = sorted(distances)
    if order is AccountOrder.DISTANCE:
        assert distances is not None
        keyed = sorted((round(d, 3), a_id) for a_id, d in distances.items())
        start = 0 if after is None else bisect.bisect_right(keyed, tuple(after))
        window = keyed[start : start + first + 1]
        ids = [a_id for _, a_id in window[:first]]
        rows = (
            await session.execute(statements.page.add_cte(book), {**params, "page_ids": ids})
        ).all()
        by_id = {row.id: _entry(row, weights, now, distances, order) for row in rows}
        entries = [by_id[a_id] for a_id in ids if a_id in by_id]
        return AccountPage(entries=entries, has_next=len(window) > first, total=len(keyed))

    if after is not None:
        if order is AccountOrder.PRIORITY:
            params["after_hundredths"] = round(-float(after[0]) * 100)
        else:
            params["after_name"] = after[0]
        params["after_id"] = int(after[1])
    rows = (await session.execute(statements.page.add_cte(book), params)).all()
    assert statements.matching is not None
    m = statements.matching.c
    if rows:
        total = rows[0].total
        midpoints = rows[0].midpoints if order is AccountOrder.PRIORITY else 0
    elif order is AccountOrder.PRIORITY:  # past the end, or only midpoint scores left
        total, midpoints = (
            await session.execute(
                select(func.count(), func.sum(cast(m.near_midpoint, Integer())))
                .select_from(statements.matching)
                .add_cte(book),
                params,
            )
        ).one()
    else:
        total, midpoints = (
            await session.scalar(
                select(func.count()).select_from(statements.matching).add_cte(book), params
            ),
            0,
        )
    entries = [_entry(row, weights, now, distances, order) for row in rows]
    if midpoints:
        # Scores on a rounding midpoint were left out of the SQL order: rank them here by the
        # exact score. Past the cursor they are at most one hundredth above it.
        loose = select(m.id, m.below, m.book_size).where(m.near_midpoint)
        if after is not None:
            loose = loose.where(m.hundredths <= params["after_hundredths"] + 1)
        loose_page = _with_summary(loose.subquery("loose")).add_cte(book)
        rows = (await session.execute(loose_page, params)).all()
        entries += [_entry(row, weights, now, distances, order) for row in rows]
        entries.sort(key=lambda entry: entry.sort_key)
        if after is not None:
            entries = [entry for entry in entries if entry.sort_key > tuple(after)]
    return AccountPage(
        entries=entries[:first], has_next=len(entries) > first, total=int(total or 0)
    )


__all__ = [
    "MAX_NEAR_RADIUS_M",
    "STATEMENT_CACHE",
    "AccountFilter",
    "AccountOrder",
    "AccountPage",
    "AccountSummary",
    "Near",
    "RankedAccount",
    "account_page",
    "parse_weights",
    "team_weights",
]
