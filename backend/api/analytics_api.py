"""Manager analytics over date ranges: coverage against cadence and windshield time.

Managers see their own team, admins any team; another team's id answers like a missing id.
The numbers come from :mod:`backend.services.analytics` (set-based SQL, no per-rep queries).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from backend.api.context import Context
from backend.api.errors import ErrorCode, api_error, bad_input, not_found
from backend.api.queries import parse_id
from backend.auth import policy
from backend.auth.viewer import Viewer
from backend.db import models
from backend.services import analytics
from backend.services.timeutil import utc_now

MAX_RANGE_DAYS = 400
MAX_OVERDUE = 1000


@strawberry.type(description="Coverage of one group of accounts.")
class CoverageRow:
    key: str
    label: str
    rep_id: strawberry.ID | None
    accounts: int
    covered: int
    share: float | None
    potential_total: float
    potential_covered: float
    potential_share: float | None
    visits: int

    @classmethod
    def of(cls, row: analytics.CoverageRow) -> CoverageRow:
        """View of a service row."""
        return cls(
            key=row.key,
            label=row.label,
            rep_id=strawberry.ID(str(row.rep_id)) if row.rep_id is not None else None,
            accounts=row.accounts,
            covered=row.covered,
            share=row.share,
            potential_total=row.potential_total,
            potential_covered=row.potential_covered,
            potential_share=row.potential_share,
            visits=row.visits,
        )


@strawberry.type(description="An account past its cadence at the end of the period.")
class OverdueAccount:
    account_id: strawberry.ID
    name: str
    rep_id: strawberry.ID | None
    territory: str
    tier: str | None
    cadence_days: int
    last_visit_at: dt.datetime | None
    overdue_days: int | None = strawberry.field(description="null: never visited.")


@strawberry.type
class DayCount:
    date: dt.date
    visits: int


@strawberry.type(
    description="Share of accounts visited within their cadence over a period: covered when "
    "not overdue at the end and visited at least floor(days / cadence) times."
)
class CoverageReport:
    team_id: strawberry.ID
    from_date: dt.date = strawberry.field(name="from")
    to_date: dt.date = strawberry.field(name="to")
    as_of: dt.datetime
    total: CoverageRow
    by_rep: list[CoverageRow]
    by_territory: list[CoverageRow]
    by_tier: list[CoverageRow]
    overdue: list[OverdueAccount]
    visits_per_day: list[DayCount]


@strawberry.type(description="Windshield time of one rep in one ISO week (seconds).")
class WindshieldWeek:
    rep_id: strawberry.ID
    rep_name: str
    week_start: dt.date
    planned_drive_seconds: float
    planned_visit_seconds: float
    planned_days: int
    planned_ratio: float | None = strawberry.field(
        description="drive / (drive + visit) from stored day plans; null without plans."
    )
    actual_drive_seconds: float
    actual_visit_seconds: float
    actual_ratio: float | None = strawberry.field(
        description="drive / (drive + visit) from breadcrumbs and visits; null without data."
    )


@strawberry.type
class WindshieldReport:
    team_id: strawberry.ID
    from_date: dt.date = strawberry.field(name="from")
    to_date: dt.date = strawberry.field(name="to")
    weeks: list[WindshieldWeek]


async def _team_period(
    ctx: Context, viewer: Viewer, team_id: strawberry.ID, start: dt.date, end: dt.date
) -> tuple[int, analytics.Period]:
    """Authorise the team and validate the range; reps are FORBIDDEN, other teams NOT_FOUND."""
    if not (viewer.is_admin or viewer.is_manager):
        raise api_error(ErrorCode.FORBIDDEN, "analytics are for managers and admins")
    team_pk = parse_id(team_id, "teamId")
    if end < start:
        raise bad_input("to", "to must not be before from")
    if (end - start).days + 1 > MAX_RANGE_DAYS:
        raise bad_input("to", f"the range is limited to {MAX_RANGE_DAYS} days")
    team = await ctx.session.scalar(
        select(models.Team).where(
            models.Team.id == team_pk, policy.analytics_teams_visible_to(viewer)
        )
    )
    if team is None:
        raise not_found("Team", team_id)
    try:
        tz = ZoneInfo(team.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = ZoneInfo("UTC")
    return team.id, analytics.Period(start, end, tz)


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(description="Coverage of a team's accounts against their visit cadence.")
    async def coverage(
        self,
        info: Info[Context, None],
        team_id: strawberry.ID,
        from_: Annotated[dt.date, strawberry.argument(name="from")],
        to: dt.date,
        overdue_limit: int = 100,
    ) -> CoverageReport:
        ctx = info.context
        viewer = ctx.require_viewer()
        if not 0 <= overdue_limit <= MAX_OVERDUE:
            raise bad_input("overdueLimit", f"overdueLimit must be 0..{MAX_OVERDUE}")
        team_pk, period = await _team_period(ctx, viewer, team_id, from_, to)
        report = await analytics.coverage_report(
            ctx.session, team_id=team_pk, period=period, now=utc_now(), overdue_limit=overdue_limit
        )
        return CoverageReport(
            team_id=strawberry.ID(str(team_pk)),
            from_date=period.start,
            to_date=period.end,
            as_of=report.as_of,
            total=CoverageRow.of(report.total),
            by_rep=[CoverageRow.of(r) for r in report.by_rep],
            by_territory=[CoverageRow.of(r) for r in report.by_territory],
            by_tier=[CoverageRow.of(r) for r in report.by_tier],
            overdue=[
                OverdueAccount(
                    account_id=strawberry.ID(str(o.account_id)),
                    name=o.name,
                    rep_id=strawberry.ID(str(o.rep_id)) if o.rep_id is not None else None,
                    territory=o.territory,
                    tier=o.tier,
                    cadence_days=o.cadence_days,
                    last_visit_at=o.last_visit_at,
                    overdue_days=o.overdue_days,
                )
                for o in report.overdue
            ],
            visits_per_day=[DayCount(date=d, visits=n) for d, n in report.visits_per_day],
        )

    @strawberry.field(description="Windshield time (drive share) per rep and week.")
    async def windshield(
        self,
        info: Info[Context, None],
        team_id: strawberry.ID,
        from_: Annotated[dt.date, strawberry.argument(name="from")],
        to: dt.date,
    ) -> WindshieldReport:
        ctx = info.context
        viewer = ctx.require_viewer()
        team_pk, period = await _team_period(ctx, viewer, team_id, from_, to)
        rows = await analytics.windshield_report(ctx.session, team_id=team_pk, period=period)
        return WindshieldReport(
            team_id=strawberry.ID(str(team_pk)),
            from_date=period.start,
            to_date=period.end,
            weeks=[
                WindshieldWeek(
                    rep_id=strawberry.ID(str(r.rep_id)),
                    rep_name=r.rep_name,
                    week_start=r.week_start,
                    planned_drive_seconds=r.planned_drive_s,
                    planned_visit_seconds=r.planned_visit_s,
                    planned_days=r.planned_days,
                    planned_ratio=r.planned_ratio,
                    actual_drive_seconds=r.actual_drive_s,
                    actual_visit_seconds=r.actual_visit_s,
                    actual_ratio=r.actual_ratio,
                )
                for r in rows
            ],
        )


__all__ = ["AnalyticsQuery"]
