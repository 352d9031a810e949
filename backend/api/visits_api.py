"""Visits from the field: check-in, check-out and GPS breadcrumbs, all safe to resend.

Resolvers only translate: the rules (idempotency, skew, far flag) live in
:mod:`backend.services.visits` and :mod:`backend.services.breadcrumbs`; who may touch which
account comes from :mod:`backend.auth.policy`.
"""

from __future__ import annotations

import datetime as dt

import strawberry
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
