"""Visits from the field: check-in, check-out and GPS breadcrumbs, all safe to resend.

Resolvers only translate: the rules (idempotency, skew, far flag) live in
:mod:`backend.services.visits` and :mod:`backend.services.breadcrumbs`; who may touch which
account comes from :mod:`backend.auth.policy`.
"""

from __future__ import annotations

import datetime as dt

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from backend.api.context import Context
from backend.api.errors import ErrorCode, api_error
from backend.api.queries import parse_id
from backend.api.types import GeoPoint
from backend.auth import policy
from backend.auth.viewer import Viewer
from backend.db import models
from backend.services import breadcrumbs as crumbs
from backend.services import visits as visit_service
from backend.services.errors import Rejected, RejectKind
from backend.services.timeutil import as_utc, utc_now
from graphql import GraphQLError

_CODES = {
    RejectKind.BAD_INPUT: ErrorCode.BAD_USER_INPUT,
    RejectKind.NOT_FOUND: ErrorCode.NOT_FOUND,
    RejectKind.CONFLICT: ErrorCode.CONFLICT,
    RejectKind.FORBIDDEN: ErrorCode.FORBIDDEN,
}


def to_graphql_error(exc: Rejected) -> GraphQLError:
    """The typed GraphQL error for a domain refusal."""
    return api_error(_CODES[exc.kind], exc.message, field=exc.field, **exc.details)


CHECK_IN_MAX_AGE = dt.timedelta(days=30)
"""How old a check-in or check-out may be when it reaches the server: a phone's offline queue
holds days, not years (a year-1 check-in is a broken clock or a probe)."""
MAX_VISIT = dt.timedelta(hours=24)
"""The longest visit: a check-out more than a day after its check-in is a mistake."""


def check_recent(at: dt.datetime, now: dt.datetime, field: str = "at") -> None:
    """``at`` is not older than :data:`CHECK_IN_MAX_AGE` (the future is the service's rule)."""
    if at.tzinfo is None:
        return  # the service refuses naive times with its own message
    try:
        too_old = as_utc(at) < now - CHECK_IN_MAX_AGE
    except OverflowError:
        too_old = True
    if too_old:
        raise api_error(
            ErrorCode.BAD_USER_INPUT,
            f"{field} is more than {CHECK_IN_MAX_AGE.days} days in the past; "
            "such an old visit cannot be recorded from the phone",
            field=field,
        )


async def check_visit_length(
    ctx: Context, rep_id: int, visit_client_id: str, at: dt.datetime
) -> None:
    """A check-out at most :data:`MAX_VISIT` after the check-in it closes."""
    if at.tzinfo is None:
        return
    check_in_at = await ctx.session.scalar(
        select(models.Visit.check_in_at).where(
            models.Visit.client_id == visit_client_id, models.Visit.rep_id == rep_id
        )
    )
    if check_in_at is not None and as_utc(at) - as_utc(check_in_at) > MAX_VISIT:
        raise api_error(
            ErrorCode.BAD_USER_INPUT,
            f"a visit lasts at most {int(MAX_VISIT.total_seconds() // 3600)} hours; "
            "check the check-out time",
            field="at",
        )


def require_rep(viewer: Viewer) -> int:
    """Only reps record visits; managers and admins look at them."""
    if viewer.rep_id is None:
        raise api_error(ErrorCode.FORBIDDEN, "only reps record visits and breadcrumbs")
    return viewer.rep_id


@strawberry.input(description="A WGS84 position from the phone's GPS.")
class GpsPositionInput:
    lat: float
    lon: float
    accuracy_m: float | None = None


@strawberry.input(description="A check-in; clientId is generated on the phone (UUID).")
class CheckInInput:
    client_id: str
    account_id: strawberry.ID
    at: dt.datetime = strawberry.field(description="When, with a UTC offset; <= now + 5 min.")
    position: GpsPositionInput
    notes: str | None = None
    outcome: str | None = None


@strawberry.input(description="A check-out of the visit opened under visitClientId.")
class CheckOutInput:
    client_id: str
    visit_client_id: str
    at: dt.datetime
    position: GpsPositionInput | None = None
    notes: str | None = None
    outcome: str | None = None


@strawberry.input(description="One recorded GPS position.")
class BreadcrumbInput:
    recorded_at: dt.datetime
    lat: float
    lon: float
    accuracy_m: float | None = None


@strawberry.type(description="A check-in at an account and, once closed, its check-out.")
class Visit:
    id: strawberry.ID
    client_id: str
    account_id: strawberry.ID
    rep_id: strawberry.ID
    check_in_at: dt.datetime
    check_out_at: dt.datetime | None
    position: GeoPoint | None
    distance_from_account_m: float | None
    flagged_far: bool = strawberry.field(
        description="Checked in farther than 250 m from the account: accepted but flagged."
    )
    notes: str | None
    outcome: str | None
    check_out_client_id: str | None
    check_out_notes: str | None

    @classmethod
    def from_row(cls, visit: models.Visit) -> Visit:
        """View of a visit row (times always in UTC)."""
        position = (
            GeoPoint(lat=visit.lat, lon=visit.lon)
            if visit.lat is not None and visit.lon is not None
            else None
        )
        return cls(
            id=strawberry.ID(str(visit.id)),
            client_id=visit.client_id,
            account_id=strawberry.ID(str(visit.account_id)),
            rep_id=strawberry.ID(str(visit.rep_id)),
            check_in_at=as_utc(visit.check_in_at),
            check_out_at=as_utc(visit.check_out_at) if visit.check_out_at else None,
            position=position,
            distance_from_account_m=visit.distance_from_account_m,
            flagged_far=visit.flagged_far,
            notes=visit.notes,
            outcome=visit.outcome,
            check_out_client_id=visit.check_out_client_id,
            check_out_notes=visit.check_out_notes,
        )


@strawberry.type(description="A rejected breadcrumb: its index in the batch and why.")
class RejectedPoint:
    index: int
    field: str
    message: str


@strawberry.type(description="What happened to a breadcrumb batch.")
class BreadcrumbBatchResult:
    accepted: int
    duplicates: int = strawberry.field(description="Already stored (resent); the first is kept.")
    rejected: list[RejectedPoint]


@strawberry.type
class VisitsMutation:
    @strawberry.mutation(
        description="Check in at an account. Resending the same clientId with the same "
        "content returns the original visit; different content is a CONFLICT."
    )
    async def check_in(self, info: Info[Context, None], input: CheckInInput) -> Visit:
        ctx = info.context
        viewer = ctx.require_viewer()
        rep_id = require_rep(viewer)
        check_recent(input.at, utc_now())
        position = input.position
        cmd = visit_service.CheckIn(
            client_id=input.client_id,
            account_id=parse_id(input.account_id, "accountId"),
            at=input.at,
            lat=position.lat,
            lon=position.lon,
            notes=input.notes,
            outcome=input.outcome,
        )
        try:
            visit = await visit_service.check_in(
                ctx.session,
                rep_id=rep_id,
                visible=policy.accounts_visible_to(viewer),
                cmd=cmd,
                now=utc_now(),
            )
            await ctx.session.commit()
        except Rejected as exc:
            await ctx.session.rollback()
            raise to_graphql_error(exc) from exc
        return Visit.from_row(visit)

    @strawberry.mutation(description="Check out of a visit; idempotent like checkIn.")
    async def check_out(self, info: Info[Context, None], input: CheckOutInput) -> Visit:
        ctx = info.context
        viewer = ctx.require_viewer()
        rep_id = require_rep(viewer)
        check_recent(input.at, utc_now())
        await check_visit_length(ctx, rep_id, input.visit_client_id, input.at)
        cmd = visit_service.CheckOut(
            client_id=input.client_id,
            visit_client_id=input.visit_client_id,
            at=input.at,
            lat=input.position.lat if input.position else None,
            lon=input.position.lon if input.position else None,
            notes=input.notes,
            outcome=input.outcome,
        )
        try:
            visit = await visit_service.check_out(
                ctx.session, rep_id=rep_id, cmd=cmd, now=utc_now()
            )
            await ctx.session.commit()
        except Rejected as exc:
            await ctx.session.rollback()
            raise to_graphql_error(exc) from exc
        return Visit.from_row(visit)

    @strawberry.mutation(
        description="Store a batch of GPS positions (idempotent per rep and instant); bad "
        "points are reported by index and skipped."
    )
    async def record_breadcrumbs(
        self, info: Info[Context, None], points: list[BreadcrumbInput]
    ) -> BreadcrumbBatchResult:
        ctx = info.context
        viewer = ctx.require_viewer()
        rep_id = require_rep(viewer)
        batch = [crumbs.PointIn(p.recorded_at, p.lat, p.lon, p.accuracy_m) for p in points]
        try:
            result = await crumbs.record_breadcrumbs(
                ctx.session, rep_id=rep_id, points=batch, now=utc_now()
            )
            await ctx.session.commit()
        except Rejected as exc:
            await ctx.session.rollback()
            raise to_graphql_error(exc) from exc
        return BreadcrumbBatchResult(
            accepted=result.accepted,
            duplicates=result.duplicates,
            rejected=[
                RejectedPoint(index=p.index, field=p.field, message=p.message)
                for p in result.rejected
            ],
        )


__all__ = ["Visit", "VisitsMutation", "require_rep", "to_graphql_error"]
