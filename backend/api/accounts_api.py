"""Accounts for the field: the caller's account list (owned by the accounts & visits feature)."""

from __future__ import annotations

import strawberry
from sqlalchemy import func, select, tuple_
from strawberry.types import Info

from backend.api.context import Context
from backend.api.pagination import check_page_size, decode_cursor, encode_cursor
from backend.api.types import Account, AccountConnection, AccountEdge, PageInfo
from backend.auth import policy
from backend.db import models


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="Accounts the caller may see, a page at a time (by name).")
    async def my_accounts(
        self, info: Info[Context, None], first: int = 50, after: str | None = None
    ) -> AccountConnection:
        ctx = info.context
        viewer = ctx.require_viewer()
        check_page_size(first, ctx.runtime.settings.graphql_max_page_size)
        visible = policy.accounts_visible_to(viewer)
        query = select(models.Account).where(visible)
        if after is not None:
            name, last_id = decode_cursor(after, 2)
            query = query.where(
                tuple_(models.Account.name, models.Account.id) > tuple_(str(name), int(last_id))
            )
        rows = (
            (
                await ctx.session.execute(
                    query.order_by(models.Account.name, models.Account.id).limit(first + 1)
                )
            )
            .scalars()
            .all()
        )
        total = await ctx.session.scalar(
            select(func.count()).select_from(models.Account).where(visible)
        )
        page = rows[:first]
        edges = [
            AccountEdge(cursor=encode_cursor(a.name, a.id), node=Account.from_row(a)) for a in page
        ]
        return AccountConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > first, end_cursor=edges[-1].cursor if edges else None
            ),
            total_count=int(total or 0),
        )
