"""Read side of the API. Every query filters through :mod:`backend.auth.policy`."""

from __future__ import annotations

import strawberry
from sqlalchemy import func, select
from strawberry.types import Info

from backend.api.context import Context
from backend.api.errors import bad_input, not_found
from backend.api.types import (
    Account,
    Rep,
    Team,
    Territory,
    User,
)
from backend.auth import policy
from backend.db import models

MAX_ID = 2**31 - 1  # INTEGER primary keys


def parse_id(raw: strawberry.ID, field: str = "id") -> int:
    """Ids are positive integers on the wire as strings; anything else is BAD_USER_INPUT."""
    try:
        value = int(str(raw))
    except ValueError as exc:
        raise bad_input(field, f"{field} must be a numeric id, got {raw!r}") from exc
    if not 0 < value <= MAX_ID:
        raise bad_input(field, f"{field} must be a positive id up to {MAX_ID}, got {raw!r}")
    return value


async def active_territory_of(ctx: Context, rep_id: int) -> Territory | None:
    """The rep's territory in the active alignment, with its size."""
    row = (
        await ctx.session.execute(
            select(models.Territory, models.Alignment)
            .join(models.Alignment, models.Alignment.id == models.Territory.alignment_id)
            .where(
                models.Territory.rep_id == rep_id,
                models.Alignment.state == models.AlignmentState.ACTIVE,
            )
        )
    ).first()
    if row is None:
        return None
    territory, alignment = row
    count = await ctx.session.scalar(
        select(func.count()).where(models.TerritoryAssignment.territory_id == territory.id)
    )
    return Territory.from_row(territory, alignment, int(count or 0))


@strawberry.type
class CoreQuery:
    @strawberry.field(description="The logged-in user.")
    async def me(self, info: Info[Context, None]) -> User:
        viewer = info.context.require_viewer()
        user = await info.context.session.get(models.User, viewer.user_id)
        if user is None:
            raise not_found("User", viewer.user_id)
        return User.from_row(user, viewer.rep_id)

    @strawberry.field(
        description="The caller's territory in the active alignment (null for non-reps)."
    )
    async def my_territory(self, info: Info[Context, None]) -> Territory | None:
        viewer = info.context.require_viewer()
        if viewer.rep_id is None:
            return None
        return await active_territory_of(info.context, viewer.rep_id)

    @strawberry.field(description="One account, if the caller may see it.")
    async def account(self, info: Info[Context, None], id: strawberry.ID) -> Account:
        ctx = info.context
        viewer = ctx.require_viewer()
        account_id = parse_id(id)
        row = await ctx.session.scalar(
            select(models.Account).where(
                models.Account.id == account_id, policy.accounts_visible_to(viewer)
            )
        )
        if row is None:
            raise not_found("Account", id)
        return Account.from_row(row)

    @strawberry.field(description="Teams the caller belongs to (all of them for admins).")
    async def teams(self, info: Info[Context, None]) -> list[Team]:
        viewer = info.context.require_viewer()
        rows = await info.context.session.scalars(
            select(models.Team).where(policy.teams_visible_to(viewer)).order_by(models.Team.name)
        )
        return [Team.from_row(t) for t in rows]

    @strawberry.field(description="Reps the caller may see; optionally of one team.")
    async def reps(
        self, info: Info[Context, None], team_id: strawberry.ID | None = None
    ) -> list[Rep]:
        viewer = info.context.require_viewer()
        query = (
            select(models.Rep, models.User)
            .join(models.User, models.User.id == models.Rep.user_id)
            .where(policy.reps_visible_to(viewer))
        )
        if team_id is not None:
            query = query.where(models.Rep.team_id == parse_id(team_id, "teamId"))
        rows = await info.context.session.execute(query.order_by(models.User.full_name))
        return [Rep.from_row(rep, user) for rep, user in rows]
