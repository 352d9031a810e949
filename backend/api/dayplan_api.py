"""Day plans: ``myDay``, ``planMyDay`` and ``replanMyDay``.

Reps plan their own day; managers read (and plan) the days of their team's reps through the
same fields with ``repId``. Rep visibility comes from :mod:`backend.auth.policy`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import OrderedDict
from typing import Any

import strawberry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from strawberry.types import Info

from backend.api.context import Context
from backend.api.errors import ErrorCode, api_error, bad_input, not_found
from backend.api.inputs import check_plan_date, parse_ids
from backend.api.queries import parse_id
from backend.api.types import GeoPoint
from backend.auth import policy
from backend.auth.viewer import Viewer
from backend.db import models
from backend.services.dayplan import (
    DayPlanError,
    PlanChanges,
    PlanOptions,
    Position,
    StoredPlan,
    plan_day,
    record_plan_updated,
    replan_day,
    stored_plan,
    stored_plan_text,
)


@strawberry.type(description="One visit in the day's route.")
class PlanStop:
    sequence: int
    account_id: strawberry.ID
    name: str
    lat: float
    lon: float
    arrival: dt.datetime
    wait_seconds: int
    start: dt.datetime
    end: dt.datetime
    leg_seconds: int
    leg_metres: float
    leg_polyline: str = strawberry.field(description="Road geometry of the drive to this stop.")
    hours_note: str | None
    priority: float
    reasons: list[str]
    required: bool
    status: str = strawberry.field(description="planned or done")


@strawberry.type(description="The drive back to the home base.")
class ReturnLeg:
    arrival: dt.datetime
    leg_seconds: int
    leg_metres: float
    leg_polyline: str


@strawberry.type(description="A break in the day (lunch).")
class PlanBreak:
    start: dt.datetime
    duration_seconds: int


@strawberry.type(description="Totals of the day; windshield ratio = drive / (drive + visit).")
class PlanTotals:
    stops: int
    drive_seconds: int
    visit_seconds: int
    wait_seconds: int
    distance_m: float
    windshield_ratio: float


@strawberry.type(description="An account not in today's route, and why.")
class DroppedAccount:
    account_id: strawberry.ID
    name: str
    reason_code: str
    reason: str


@strawberry.type(description="A rep's plan for one day (stored; each re-plan is a new version).")
class DayPlan:
    rep_id: strawberry.ID
    date: dt.date
    version: int
    timezone: str
    departure: dt.datetime
    shift_start: dt.datetime
    shift_end: dt.datetime
    home: GeoPoint
    stops: list[PlanStop]
    return_leg: ReturnLeg
    breaks: list[PlanBreak]
    totals: PlanTotals
    dropped: list[DroppedAccount]
    notes: list[str]
    replanned_at: dt.datetime | None

    @classmethod
    def from_record(cls, record: models.DayPlanRecord) -> DayPlan:
        """View of the stored plan document."""
        return cls.from_document(record.rep_id, record.plan_date, record.version, record.plan)

    @classmethod
    def from_document(
        cls, rep_id: int, plan_date: dt.date, version: int, p: dict[str, Any]
    ) -> DayPlan:
        """View of a plan document (as stored in ``day_plans.plan``)."""
        stops = [
            PlanStop(
                sequence=s["sequence"],
                account_id=strawberry.ID(str(s["account_id"])),
                name=s["name"],
                lat=s["lat"],
                lon=s["lon"],
                arrival=dt.datetime.fromisoformat(s["arrival"]),
                wait_seconds=s["wait_seconds"],
                start=dt.datetime.fromisoformat(s["start"]),
                end=dt.datetime.fromisoformat(s["end"]),
                leg_seconds=s["leg_seconds"],
                leg_metres=s["leg_metres"],
                leg_polyline=s["leg_polyline"],
                hours_note=s.get("hours_note"),
                priority=s.get("priority", 0.0),
                reasons=s.get("reasons", []),
                required=s.get("required", False),
                status=s.get("status", "planned"),
            )
            for s in p["stops"]
        ]
        ret = p["return_leg"]
        return cls(
            rep_id=strawberry.ID(str(rep_id)),
            date=plan_date,
            version=version,
            timezone=p["timezone"],
            departure=dt.datetime.fromisoformat(p["departure"]),
            shift_start=dt.datetime.fromisoformat(p["shift"]["start"]),
            shift_end=dt.datetime.fromisoformat(p["shift"]["end"]),
            home=GeoPoint(lat=p["home"]["lat"], lon=p["home"]["lon"]),
            stops=stops,
            return_leg=ReturnLeg(
                arrival=dt.datetime.fromisoformat(ret["arrival"]),
                leg_seconds=ret["leg_seconds"],
                leg_metres=ret["leg_metres"],
                leg_polyline=ret["leg_polyline"],
            ),
            breaks=[
                PlanBreak(
                    start=dt.datetime.fromisoformat(b["start"]),
                    duration_seconds=b["duration_seconds"],
                )
                for b in p["breaks"]
            ],
            totals=PlanTotals(**p["totals"]),
            dropped=[
                DroppedAccount(
                    account_id=strawberry.ID(str(d["account_id"])),
                    name=d["name"],
                    reason_code=d["reason_code"],
                    reason=d["reason"],
                )
                for d in p["dropped"]
            ],
            notes=p["notes"],
            replanned_at=(
                dt.datetime.fromisoformat(p["replanned_at"]) if p.get("replanned_at") else None
            ),
        )


@strawberry.input(description="Options for planning a day.")
class PlanOptionsInput:
    max_candidates: int = 25
    must_visit: list[strawberry.ID] = strawberry.field(default_factory=list)
    lunch_minutes: int = 30
    shift_start: str | None = strawberry.field(default=None, description="HH:MM")
    shift_end: str | None = strawberry.field(default=None, description="HH:MM")


@strawberry.input(description="A GPS position.")
class PositionInput:
    lat: float
    lon: float


@strawberry.input(description="What changed since the plan was made.")
class PlanChangesInput:
    cancelled: list[strawberry.ID] = strawberry.field(default_factory=list)
    added: list[strawberry.ID] = strawberry.field(default_factory=list)
    done: list[strawberry.ID] = strawberry.field(default_factory=list)


async def _target_rep(ctx: Context, viewer: Viewer, rep_id: strawberry.ID | None) -> int:
    """The rep whose day is asked for: the viewer, or one of the reps they may see."""
    if rep_id is None:
        if viewer.rep_id is None:
            raise bad_input("repId", "only reps have a day of their own; pass repId")
        return viewer.rep_id
    wanted = parse_id(rep_id, "repId")
    found = await ctx.session.scalar(
        select(models.Rep.id).where(models.Rep.id == wanted, policy.reps_visible_to(viewer))
    )
    if found is None:
        raise not_found("Rep", rep_id, "repId")
    return wanted


def _time(value: str | None, field: str) -> dt.time | None:
    if value is None:
        return None
    try:
        return dt.time.fromisoformat(value)
    except ValueError as exc:
        raise bad_input(field, f"{field} must be HH:MM, got {value!r}") from exc


def _options(options: PlanOptionsInput | None) -> PlanOptions:
    if options is None:
        return PlanOptions()
    if not 1 <= options.max_candidates <= 100:
        raise bad_input("options.maxCandidates", "maxCandidates must be between 1 and 100")
    if not 0 <= options.lunch_minutes <= 180:
        raise bad_input("options.lunchMinutes", "lunchMinutes must be between 0 and 180")
    return PlanOptions(
        max_candidates=options.max_candidates,
        must_visit=parse_ids(options.must_visit, "options.mustVisit"),
        lunch_minutes=options.lunch_minutes,
        shift_start=_time(options.shift_start, "options.shiftStart"),
        shift_end=_time(options.shift_end, "options.shiftEnd"),
    )


def _as_api_error(exc: DayPlanError) -> Exception:
    code = ErrorCode(exc.code) if exc.code in ErrorCode.__members__ else ErrorCode.INFEASIBLE
    return api_error(code, str(exc), field=exc.field)


PLAN_VIEWS_KEY = "day_plan_views"
PLAN_VIEWS_SIZE = 2048


def _plan_view(ctx: Context, stored: StoredPlan) -> DayPlan:
    """The view of a stored plan, parsed once per version of it in this process.

    Reading the row is what keeps a reader current (a re-plan in any process stores a new
    version); what is kept here is only the parse of a document that never changes.
    """
    views: OrderedDict[tuple[int, int, dt.datetime], DayPlan] = ctx.runtime.extras.setdefault(
        PLAN_VIEWS_KEY, OrderedDict()
    )
    view = views.get(stored.key)
    if view is None:
        document = json.loads(stored.document)
        view = DayPlan.from_document(stored.rep_id, stored.plan_date, stored.version, document)
        views[stored.key] = view
        if len(views) > PLAN_VIEWS_SIZE:
            views.popitem(last=False)
    else:
        views.move_to_end(stored.key)
    return view


@strawberry.type
class DayPlanQuery:
    @strawberry.field(description="The stored plan for the date, planned now when none exists.")
    async def my_day(
        self, info: Info[Context, None], date: dt.date, rep_id: strawberry.ID | None = None
    ) -> DayPlan:
        ctx = info.context
        viewer = ctx.require_viewer()
        rep = await _target_rep(ctx, viewer, rep_id)
        stored = await stored_plan_text(ctx.session, rep, date)
        if stored is not None:
            return _plan_view(ctx, stored)
        record = await stored_plan(ctx.session, rep, date)
        if record is None:
            check_plan_date(date, ctx.runtime.today())  # reading a stored plan is always fine
            try:
                record = await plan_day(
                    ctx.session,
                    await ctx.runtime.road_network(),
                    rep,
                    date,
                    max_snap_m=ctx.runtime.settings.max_snap_distance_m,
                    keep_existing=True,
                )
                await ctx.session.commit()
            except DayPlanError as exc:
                raise _as_api_error(exc) from exc
            except IntegrityError:
                # Another request (a second tab) planned the same day first: use its plan.
                await ctx.session.rollback()
                record = await stored_plan(ctx.session, rep, date)
                if record is None:
                    raise
        return DayPlan.from_record(record)


@strawberry.type
class DayPlanMutation:
    @strawberry.mutation(description="Plan (or plan again from scratch) the day.")
    async def plan_my_day(
        self,
        info: Info[Context, None],
        date: dt.date,
        options: PlanOptionsInput | None = None,
        rep_id: strawberry.ID | None = None,
    ) -> DayPlan:
        ctx = info.context
        viewer = ctx.require_viewer()
        rep = await _target_rep(ctx, viewer, rep_id)
        check_plan_date(date, ctx.runtime.today())
        try:
            record = await plan_day(
                ctx.session,
                await ctx.runtime.road_network(),
                rep,
                date,
                _options(options),
                max_snap_m=ctx.runtime.settings.max_snap_distance_m,
                visible=policy.accounts_visible_to(viewer),
            )
        except DayPlanError as exc:
            raise _as_api_error(exc) from exc
        if rep != viewer.rep_id:  # a manager changed the rep's day: the rep hears about it
            await record_plan_updated(ctx.session, record, "planned by your manager")
        await ctx.session.commit()
        ctx.runtime.wake_relay()
        return DayPlan.from_record(record)

    @strawberry.mutation(description="Re-plan the rest of today from where the rep is now.")
    async def replan_my_day(
        self,
        info: Info[Context, None],
        position: PositionInput,
        at: dt.datetime,
        changes: PlanChangesInput | None = None,
        date: dt.date | None = None,
    ) -> DayPlan:
        ctx = info.context
        viewer = ctx.require_viewer()
        rep = await _target_rep(ctx, viewer, None)
        if not (math.isfinite(position.lat) and -90 <= position.lat <= 90):
            raise bad_input("position.lat", "latitude must be a number in -90..90")
        if not (math.isfinite(position.lon) and -180 <= position.lon <= 180):
            raise bad_input("position.lon", "longitude must be a number in -180..180")
        if at.tzinfo is None:
            raise bad_input("at", "'at' needs a time zone offset, e.g. 2026-11-24T10:30:00+01:00")
        changes = changes or PlanChangesInput()
        plan_date = date or at.date()
        check_plan_date(plan_date, ctx.runtime.today(), "date" if date is not None else "at")
        try:
            record = await replan_day(
                ctx.session,
                await ctx.runtime.road_network(),
                rep,
                plan_date,
                Position(position.lat, position.lon),
                at,
                PlanChanges(
                    cancelled=parse_ids(changes.cancelled, "changes.cancelled"),
                    added=parse_ids(changes.added, "changes.added"),
                    done=parse_ids(changes.done, "changes.done"),
                ),
                max_snap_m=ctx.runtime.settings.max_snap_distance_m,
                visible=policy.accounts_visible_to(viewer),
            )
        except DayPlanError as exc:
            raise _as_api_error(exc) from exc
        await record_plan_updated(ctx.session, record, "re-planned from your position")
        await ctx.session.commit()
        ctx.runtime.wake_relay()
        return DayPlan.from_record(record)
