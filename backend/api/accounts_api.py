"""Accounts for the field: the caller's account list, scored, filtered, near me, paginated.

PRIORITY order is ranked in SQL by the twin of the planner's score, and every score, reason and
penalty shown comes from :func:`backend.services.priority.score_in_book`, the function the day
planner calls, so the list and the route agree (see :mod:`backend.services.account_list`).
Cursors are opaque and bound to the order they were issued for.
"""

from __future__ import annotations

import enum
import math

import strawberry
from strawberry.types import Info

from backend.api.context import Context
from backend.api.errors import bad_input
from backend.api.inputs import MAX_SHORT_TEXT, check_text
from backend.api.pagination import check_page_size, decode_cursor, encode_cursor
from backend.api.types import Account, PageInfo, account_fields
from backend.auth import policy
from backend.services.account_list import (
    MAX_NEAR_RADIUS_M,
    AccountFilter,
    AccountOrder,
    Near,
    account_page,
)
from backend.services.account_list import RankedAccount as RankedEntry
from backend.services.positions import coordinate_problem
from backend.services.priority import Priority
from backend.services.timeutil import utc_now


@strawberry.enum(description="Orders of myAccounts; DISTANCE needs filter.near.")
class AccountOrderBy(enum.Enum):
    NAME = "name"
    PRIORITY = "priority"
    DISTANCE = "distance"


@strawberry.input(description="A circle around a position (metres).")
class NearInput:
    lat: float
    lon: float
    radius_m: float


@strawberry.input(description="Filters of myAccounts; omitted fields do not filter.")
class AccountFilterInput:
    due: bool | None = strawberry.field(
        default=None, description="true: due today or overdue (or never visited); false: not yet."
    )
    tier: str | None = None
    segment: str | None = None
    near: NearInput | None = None


@strawberry.type(description="Why an account is urgent: a 0-100 score with its reasons.")
class AccountPriority:
    score: float
    reasons: list[str]
    due_in_days: int | None = strawberry.field(
        description="Days until the cadence is due (negative: overdue); null if never visited."
    )
    overdue_days: int
    penalty: int = strawberry.field(
        description="The day planner's cost (seconds of driving) for leaving this account out."
    )

    @classmethod
    def from_priority(cls, priority: Priority) -> AccountPriority:
        """View of a computed priority."""
        return cls(
            score=priority.score,
            reasons=list(priority.reasons),
            due_in_days=priority.due_in_days,
            overdue_days=priority.overdue_days,
            penalty=priority.penalty,
        )


@strawberry.type(description="An account in the caller's list, with its priority.")
class RankedAccount(Account):
    priority: AccountPriority
    distance_m: float | None = strawberry.field(
        description="Metres from filter.near's centre (null without near)."
    )


@strawberry.type
class RankedAccountEdge:
    cursor: str
    node: RankedAccount


@strawberry.type(description="A page of the caller's accounts.")
class RankedAccountConnection:
    edges: list[RankedAccountEdge]
    page_info: PageInfo
    total_count: int


def _filters(raw: AccountFilterInput | None) -> AccountFilter:
    """Validate the filter input; every problem names its field."""
    if raw is None:
        return AccountFilter()
    near = None
    if raw.near is not None:
        problem = coordinate_problem(raw.near.lat, raw.near.lon)
        if problem is not None:
            raise bad_input(f"filter.near.{problem[0]}", problem[1])
        radius = raw.near.radius_m
        if not math.isfinite(radius) or not 0 < radius <= MAX_NEAR_RADIUS_M:
            raise bad_input(
                "filter.near.radiusM",
                f"radiusM must be > 0 and <= {MAX_NEAR_RADIUS_M:g} metres, got {radius!r}",
            )
        near = Near(raw.near.lat, raw.near.lon, radius)
    check_text(raw.tier, "filter.tier", MAX_SHORT_TEXT)
    check_text(raw.segment, "filter.segment", MAX_SHORT_TEXT)
    return AccountFilter(due=raw.due, tier=raw.tier, segment=raw.segment, near=near)


def _cursor_key(after: str, order: AccountOrder) -> tuple[str | float | int, ...]:
    """The sort key inside a cursor; a cursor of another order is refused."""
    tag, key, last_id = decode_cursor(after, 3)
    valid_key = isinstance(key, str) if order is AccountOrder.NAME else isinstance(key, int | float)
    if tag != order.value or not valid_key or not isinstance(last_id, int):
        raise bad_input(
            "after", "cursor does not belong to this orderBy; start from the first page"
        )
    return (key, last_id)


def _ranked(entry: RankedEntry) -> RankedAccount:
    """The GraphQL node of a page entry (plain values read with the page, no ORM objects)."""
    return RankedAccount(
        **account_fields(entry.account),
        priority=AccountPriority.from_priority(entry.priority),
        distance_m=entry.distance_m,
    )


@strawberry.type
class AccountsQuery:
    @strawberry.field(
        description="Accounts the caller may see, a page at a time, by NAME, PRIORITY or "
        "DISTANCE (with filter.near)."
    )
    async def my_accounts(
        self,
        info: Info[Context, None],
        first: int = 50,
        after: str | None = None,
        order_by: AccountOrderBy = AccountOrderBy.NAME,
        filter: AccountFilterInput | None = None,
    ) -> RankedAccountConnection:
        ctx = info.context
        viewer = ctx.require_viewer()
        check_page_size(first, ctx.runtime.settings.graphql_max_page_size)
        order = AccountOrder(order_by.value)
        filters = _filters(filter)
        if order is AccountOrder.DISTANCE and filters.near is None:
            raise bad_input("orderBy", "orderBy DISTANCE needs filter.near")
        cursor = _cursor_key(after, order) if after is not None else None
        result = await account_page(
            ctx.session,
            policy.accounts_visible_to(viewer),
            now=utc_now(),
            order=order,
            filters=filters,
            first=first,
            after=cursor,
            teams=policy.teams_visible_to(viewer),
        )
        edges = [
            RankedAccountEdge(
                cursor=encode_cursor(order.value, *entry.sort_key), node=_ranked(entry)
            )
            for entry in result.entries
        ]
        return RankedAccountConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=result.has_next, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=result.total,
        )


__all__ = ["AccountsQuery", "RankedAccount"]
