"""A rep's day: candidates by priority, road-network matrix, OR-Tools plan, stored as a version.

The plan is stored as JSON (``day_plans``) because it is a document the phone caches whole and
renders offline; it carries everything the app shows: stops with times and leg geometry, totals
with the windshield ratio, and every account left out with its reason.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Text, cast, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.policy import active_territory_account_ids
from backend.db.models import Account, DayPlanRecord, Rep, Team, Visit
from backend.services.outbox import record_event
from backend.services.priority import AccountFacts, Priority, PriorityWeights, score_accounts

if TYPE_CHECKING:
    from routing.network import RoadNetwork, Snap
    from routing.vrp import DaySolution, DroppedStop

log = logging.getLogger(__name__)
DEFAULT_MAX_CANDIDATES = 25


def _thorough() -> Any:
    from routing.vrp import SolveParams

    return SolveParams(time_limit_s=10.0)


def _quick() -> Any:
    from routing.vrp import SolveParams

    return SolveParams(time_limit_s=2.0, lns_iterations=0, solution_limit=20)


#: How hard the solver searches: "thorough" (default, deterministic work limit with
#: ruin-and-recreate) or "quick" (first solution plus a short local search).
SEARCH_EFFORT = {"thorough": _thorough, "quick": _quick}
PLAN_FORMAT = 1


class DayPlanError(Exception):
    """The day cannot be planned as asked; ``field`` names the input at fault."""

    def __init__(self, message: str, *, field: str | None = None, code: str = "INFEASIBLE"):
        super().__init__(message)
        self.field = field
        self.code = code


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """What the rep (or manager) can change about a day plan."""

    max_candidates: int = DEFAULT_MAX_CANDIDATES
    must_visit: tuple[int, ...] = ()
    lunch_minutes: int = 30
    lunch_earliest: dt.time = dt.time(11, 30)
    lunch_latest: dt.time = dt.time(14, 0)
    shift_start: dt.time | None = None
    shift_end: dt.time | None = None
    exclude: tuple[int, ...] = ()
    effort: str = "thorough"

    def to_json(self) -> dict[str, Any]:
        """Stored with the plan so a re-plan uses the same options."""
        return {
            "max_candidates": self.max_candidates,
            "must_visit": list(self.must_visit),
            "lunch_minutes": self.lunch_minutes,
            "lunch_earliest": self.lunch_earliest.strftime("%H:%M"),
            "lunch_latest": self.lunch_latest.strftime("%H:%M"),
            "shift_start": self.shift_start.strftime("%H:%M") if self.shift_start else None,
            "shift_end": self.shift_end.strftime("%H:%M") if self.shift_end else None,
            "exclude": list(self.exclude),
            "effort": self.effort,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PlanOptions:
        """Inverse of :meth:`to_json`."""

        def t(value: str | None) -> dt.time | None:
            return dt.time.fromisoformat(value) if value else None

        return cls(
            max_candidates=int(data.get("max_candidates", DEFAULT_MAX_CANDIDATES)),
            must_visit=tuple(data.get("must_visit", ())),
            lunch_minutes=int(data.get("lunch_minutes", 30)),
            lunch_earliest=t(data.get("lunch_earliest")) or dt.time(11, 30),
            lunch_latest=t(data.get("lunch_latest")) or dt.time(14, 0),
            shift_start=t(data.get("shift_start")),
            shift_end=t(data.get("shift_end")),
            exclude=tuple(data.get("exclude", ())),
            effort=str(data.get("effort", "thorough")),
        )


@dataclass(frozen=True, slots=True)
class Position:
    """Where the rep is now (re-planning)."""

    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class PlanChanges:
    """What changed since the plan was made."""

    cancelled: tuple[int, ...] = ()
    added: tuple[int, ...] = ()
    done: tuple[int, ...] = ()


@dataclass
class _Inputs:
    """Everything loaded from the database for one planning run."""

    rep: Rep
    team: Team
    tz: ZoneInfo
    accounts: list[Account]
    scores: dict[int, Priority]
    extra_dropped: list[dict[str, Any]] = field(default_factory=list)


def _seconds(value: dt.time) -> int:
    return value.hour * 3600 + value.minute * 60 + value.second


def _clock(day: dt.date, seconds: int, tz: ZoneInfo) -> str:
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    return (midnight + dt.timedelta(seconds=int(seconds))).isoformat()


def _ids_text(ids: Sequence[int], shown: int = 5) -> str:
    """The first few ids of a list for a message ('12, 13, 14, 15, 16 and 27 more')."""
    head = ", ".join(str(i) for i in ids[:shown])
    rest = len(ids) - shown
    return f"{head} and {rest} more" if rest > 0 else head


async def require_visible(
    session: AsyncSession,
    visible: ColumnElement[bool] | None,
    **ids_by_field: Sequence[int],
) -> None:
    """Every id the caller passed must be an account the caller may read.

    ``visible`` is the caller's clause from :func:`backend.auth.policy.accounts_visible_to`;
    None means a trusted caller (CLI, jobs, tests) and checks nothing. An id outside the
    caller's reach answers exactly like an id that does not exist: NOT_FOUND on its field.
    """
    if visible is None:
        return
    wanted = {i for ids in ids_by_field.values() for i in ids}
    if not wanted:
        return
    found = set(await session.scalars(select(Account.id).where(Account.id.in_(wanted), visible)))
    for field_name, ids in ids_by_field.items():
        missing = sorted({i for i in ids if i not in found})
        if missing:
            raise DayPlanError(
                f"accounts not found: {_ids_text(missing)}", field=field_name, code="NOT_FOUND"
            )


async def _load_inputs(
    session: AsyncSession, rep_id: int, now: dt.datetime, extra_ids: Sequence[int] = ()
) -> _Inputs:
    """The rep's territory accounts plus ``extra_ids`` of the rep's team.

    ``extra_ids`` must already be authorized for the caller (:func:`require_visible`) or come
    from the stored plan (must-visits its planner was allowed to add); the team filter here is
    the last fence, not the permission check.
    """
    rep = await session.get(Rep, rep_id)
    if rep is None:
        raise DayPlanError(f"rep {rep_id} not found", field="repId", code="NOT_FOUND")
    team = await session.get(Team, rep.team_id)
    assert team is not None
    in_territory = active_territory_account_ids(rep_id)
    accounts = list(
        (
            await session.execute(
                select(Account).where(
                    Account.team_id == rep.team_id,
                    Account.id.in_(in_territory) | Account.id.in_(list(extra_ids)),
                )
            )
        ).scalars()
    )
    # The same score (and penalty) the account list shows, so list and route agree.
    scores = score_accounts(
        (
            AccountFacts(
                id=a.id,
                potential=a.potential,
                tier=a.tier,
                engagement=a.engagement,
                open_opportunities=a.open_opportunities,
                cadence_days=a.visit_cadence_days,
                last_visit_at=a.last_visit_at,
            )
            for a in accounts
        ),
        now,
        _team_weights(team),
    )
    return _Inputs(rep=rep, team=team, tz=ZoneInfo(team.timezone), accounts=accounts, scores=scores)


def _team_weights(team: Team) -> PriorityWeights:
    """The team's weights; a broken setting falls back to the defaults (as the list does)."""
    try:
        return PriorityWeights.from_json(team.priority_weights)
    except ValueError:
        log.warning("team %s has invalid priority weights; using the defaults", team.id)
        return PriorityWeights()


def _rank(inputs: _Inputs, options: PlanOptions) -> tuple[list[Account], list[dict[str, Any]]]:
    """Candidates for today (must-visits first, then by priority) and the rest with reasons."""
    by_id = {a.id: a for a in inputs.accounts}
    unknown = [i for i in options.must_visit if i not in by_id]
    if unknown:
        raise DayPlanError(
            f"must-visit accounts not in this rep's territory: {_ids_text(unknown)}",
            field="options.mustVisit",
            code="BAD_USER_INPUT",
        )
    excluded = set(options.exclude)
    ranked = sorted(
        (a for a in inputs.accounts if a.id not in excluded and a.id not in options.must_visit),
        key=lambda a: (-inputs.scores[a.id].score, a.id),
    )
    chosen = [by_id[i] for i in options.must_visit] + ranked
    limit = max(options.max_candidates, len(options.must_visit))
    left = [
        {
            "account_id": a.id,
            "name": a.name,
            "reason_code": "not_candidate",
            "reason": (
                f"not among today's {limit} highest-priority accounts"
                f" (priority {inputs.scores[a.id].score:.0f})"
            ),
        }
        for a in chosen[limit:]
    ]
    left += [
        {
            "account_id": i,
            "name": by_id[i].name,
            "reason_code": "cancelled",
            "reason": "cancelled for today",
        }
        for i in sorted(excluded)
        if i in by_id
    ]
    return chosen[:limit], left


def _solve_day(
    net: RoadNetwork,
    inputs: _Inputs,
    candidates: list[Account],
    day: dt.date,
    options: PlanOptions,
    start: Position | None,
    start_seconds: int | None,
    previous_order: list[str] | None,
    done: Sequence[str],
    breaks_taken: int,
    max_snap_m: float,
) -> tuple[DaySolution, list[Snap], list[Account], list[dict[str, Any]], dict[str, Any]]:
    """CPU-bound part, run in a worker thread: snap, matrix, windows, solve."""
    from routing.network import PointOffNetworkError
    from routing.vrp import (
        Break,
        DayProblem,
        Stop,
        TimeWindow,
        Vehicle,
        VehicleProgress,
        replan,
        solve,
        windows_from_opening_hours,
    )

    rep = inputs.rep
    if rep.home_lat is None or rep.home_lon is None:
        raise DayPlanError(
            "the rep has no home base; set one before planning",
            field="rep.home",
            code="BAD_USER_INPUT",
        )
    left: list[dict[str, Any]] = []
    try:
        home = net.snap(rep.home_lat, rep.home_lon, label="home base", max_distance_m=max_snap_m)
    except PointOffNetworkError as exc:
        raise DayPlanError(str(exc), field="rep.home") from exc
    snaps: list[Snap] = [home]
    position_index = None
    if start is not None:
        try:
            snaps.append(
                net.snap(start.lat, start.lon, label="current position", max_distance_m=max_snap_m)
            )
        except PointOffNetworkError as exc:
            raise DayPlanError(str(exc), field="position", code="BAD_USER_INPUT") from exc
        position_index = 1
    placed: list[Account] = []
    for account in candidates:
        try:
            snaps.append(
                net.snap(account.lat, account.lon, label=account.name, max_distance_m=max_snap_m)
            )
            placed.append(account)
        except PointOffNetworkError:
            left.append(
                {
                    "account_id": account.id,
                    "name": account.name,
                    "reason_code": "unreachable",
                    "reason": f"no road within {max_snap_m:.0f} m",
                }
            )
    offset = len(snaps) - len(placed)
    matrix = net.travel_matrix(snaps, snaps)
    shift_start = _seconds(options.shift_start or rep.work_start)
    shift_end = _seconds(options.shift_end or rep.work_end)
    if shift_end <= shift_start:
        raise DayPlanError(
            "the shift ends before it starts", field="options.shiftEnd", code="BAD_USER_INPUT"
        )
    lunch = Break(
        earliest_start=_seconds(options.lunch_earliest),
        latest_start=_seconds(options.lunch_latest),
        duration=options.lunch_minutes * 60,
    )
    breaks = [lunch] if options.lunch_minutes > 0 else []
    vehicle = Vehicle(
        id="rep",
        start_location=0,
        end_location=0,
        shift_start=shift_start,
        shift_end=shift_end,
        breaks=breaks,
    )
    stops = []
    hours_notes: dict[str, str | None] = {}
    for index, account in enumerate(placed, start=offset):
        hours = windows_from_opening_hours(account.opening_hours, day, inputs.team.timezone)
        hours_notes[str(account.id)] = hours.note
        stops.append(
            Stop(
                id=str(account.id),
                location=index,
                duration_s=account.visit_duration_min * 60,
                windows=[TimeWindow(w.start, w.end) for w in hours.windows],
                required=account.id in options.must_visit,
                penalty=inputs.scores[account.id].penalty,
                hours_note=hours.note,
                hours_known=hours.known,
                label=account.name,
            )
        )
    problem = DayProblem(
        seconds=matrix.seconds, metres=matrix.metres, vehicles=[vehicle], stops=stops
    )
    params = SEARCH_EFFORT.get(options.effort, SEARCH_EFFORT["thorough"])()
    if position_index is not None and start_seconds is not None:
        progress = {
            "rep": VehicleProgress(
                location=position_index,
                time=start_seconds,
                done=list(done),
                breaks_taken=breaks_taken,
            )
        }
        solution = replan(problem, progress, {"rep": previous_order or []}, params)
    else:
        solution = solve(problem, params)
    meta = {"hours_notes": hours_notes, "shift_start": shift_start, "shift_end": shift_end}
    return solution, snaps, placed, left, meta


def _reason_text(dropped: DroppedStop, chosen: int) -> str:
    if dropped.reason_code == "low_priority":
        return f"lower priority than the {chosen} stops chosen"
    return dropped.reason


def _document(
    net: RoadNetwork,
    inputs: _Inputs,
    day: dt.date,
    solution: DaySolution,
    snaps: list[Snap],
    placed: list[Account],
    left: list[dict[str, Any]],
    meta: dict[str, Any],
    options: PlanOptions,
    done_stops: list[dict[str, Any]],
    start_label: str,
) -> dict[str, Any]:
    """The stored plan document (what the API and the phone read)."""
    tz = inputs.tz
    by_id = {str(a.id): a for a in placed}
    route = solution.routes["rep"]
    stops: list[dict[str, Any]] = list(done_stops)
    start_snap = snaps[1] if start_label == "current position" else snaps[0]
    previous_snap = start_snap
    visit_seconds = sum(s["end_s"] - s["start_s"] for s in done_stops)
    wait_seconds = 0
    for stop in route.stops:
        account = by_id[stop.stop_id]
        snap = snaps[stop.location]
        path = net.route_path(previous_snap, snap)
        previous_snap = snap
        visit_seconds += stop.end - stop.start
        wait_seconds += stop.wait
        stops.append(
            {
                "sequence": len(stops) + 1,
                "account_id": account.id,
                "name": account.name,
                "lat": account.lat,
                "lon": account.lon,
                "arrival": _clock(day, stop.arrival, tz),
                "wait_seconds": stop.wait,
                "start": _clock(day, stop.start, tz),
                "end": _clock(day, stop.end, tz),
                "start_s": stop.start,
                "end_s": stop.end,
                "leg_seconds": stop.leg_seconds,
                "leg_metres": round(float(stop.leg_metres), 1),
                "leg_polyline": path.polyline,
                "hours_note": meta["hours_notes"].get(stop.stop_id),
                "priority": round(inputs.scores[account.id].score, 1),
                "reasons": list(inputs.scores[account.id].reasons),
                "required": account.id in options.must_visit,
                "status": "planned",
            }
        )
    home_path = net.route_path(previous_snap, snaps[0])
    chosen = len(route.stops)
    dropped = [
        {
            "account_id": int(d.stop_id),
            "name": by_id[d.stop_id].name,
            "reason_code": d.reason_code,
            "reason": _reason_text(d, chosen),
        }
        for d in solution.dropped
    ] + left
    drive_seconds = int(route.drive_seconds) + sum(int(s["leg_seconds"]) for s in done_stops)
    distance = float(route.drive_metres) + sum(float(s["leg_metres"]) for s in done_stops)
    busy = drive_seconds + visit_seconds
    return {
        "format": PLAN_FORMAT,
        "date": day.isoformat(),
        "timezone": inputs.team.timezone,
        "rep_id": inputs.rep.id,
        "start": {"label": start_label, "lat": start_snap.lat, "lon": start_snap.lon},
        "home": {"lat": snaps[0].snapped_lat, "lon": snaps[0].snapped_lon},
        "shift": {
            "start": _clock(day, meta["shift_start"], tz),
            "end": _clock(day, meta["shift_end"], tz),
        },
        "departure": _clock(day, route.departure, tz),
        "stops": stops,
        "return_leg": {
            "arrival": _clock(day, route.end_arrival, tz),
            "leg_seconds": route.end_leg_seconds,
            "leg_metres": round(float(route.end_leg_metres), 1),
            "leg_polyline": home_path.polyline,
        },
        "breaks": [
            {"start": _clock(day, b.start, tz), "duration_seconds": b.duration}
            for b in route.breaks
        ],
        "totals": {
            "stops": len(stops),
            "drive_seconds": drive_seconds,
            "visit_seconds": visit_seconds,
            "wait_seconds": wait_seconds,
            "distance_m": round(distance, 1),
            "windshield_ratio": round(drive_seconds / busy, 4) if busy else 0.0,
        },
        "dropped": dropped,
        "notes": list(solution.notes),
        "candidates": [a.id for a in placed],
        "options": options.to_json(),
    }


async def _store(
    session: AsyncSession,
    rep_id: int,
    day: dt.date,
    plan: dict[str, Any],
    *,
    keep_existing: bool = False,
) -> DayPlanRecord:
    """Store ``plan`` as the next version, or, with ``keep_existing``, only if none is stored.

    ``keep_existing`` serves "plan it when there is none": a request that lost the race to a
    second tab returns the plan that tab stored instead of overwriting it with a new version.
    """
    record = await session.scalar(
        select(DayPlanRecord).where(DayPlanRecord.rep_id == rep_id, DayPlanRecord.plan_date == day)
    )
    if record is not None and keep_existing:
        return record
    if record is None:
        record = DayPlanRecord(rep_id=rep_id, plan_date=day, version=1, plan=plan)
        session.add(record)
    else:
        record.version += 1
        record.plan = plan
    plan["version"] = record.version
    await session.flush()
    return record


async def record_plan_updated(session: AsyncSession, record: DayPlanRecord, reason: str) -> None:
    """Tell the rep their plan changed (outbox, same transaction as the new version)."""
    from notifications import DayPlanUpdated

    user_id = await session.scalar(select(Rep.user_id).where(Rep.id == record.rep_id))
    if user_id is None:
        return
    change = DayPlanUpdated(
        rep_id=str(record.rep_id),
        plan_date=record.plan_date,
        stop_count=len(record.plan.get("stops", [])),
        reason=reason,
        plan_id=str(record.id),
    )
    await record_event(session, change.to_event(recipients=[str(user_id)]))


async def stored_plan(session: AsyncSession, rep_id: int, day: dt.date) -> DayPlanRecord | None:
    """The stored plan of ``rep_id`` for ``day``, if any."""
    return await session.scalar(
        select(DayPlanRecord).where(DayPlanRecord.rep_id == rep_id, DayPlanRecord.plan_date == day)
    )


@dataclass(frozen=True, slots=True)
class StoredPlan:
    """A stored plan as read for serving: its identity and its document, still as JSON text.

    ``(id, version, updated_at)`` identifies the document (every re-plan stores a new version),
    so a reader that has already parsed it can skip parsing it again.
    """

    id: int
    rep_id: int
    plan_date: dt.date
    version: int
    updated_at: dt.datetime
    document: str

    @property
    def key(self) -> tuple[int, int, dt.datetime]:
        """What identifies this version of the document."""
        return (self.id, self.version, self.updated_at)


async def stored_plan_text(session: AsyncSession, rep_id: int, day: dt.date) -> StoredPlan | None:
    """The stored plan of ``rep_id`` for ``day`` in one row read, its document unparsed."""
    row = (
        await session.execute(
            select(
                DayPlanRecord.id,
                DayPlanRecord.version,
                DayPlanRecord.updated_at,
                cast(DayPlanRecord.plan, Text()),
            ).where(DayPlanRecord.rep_id == rep_id, DayPlanRecord.plan_date == day)
        )
    ).first()
    if row is None:
        return None
    plan_id, version, updated_at, document = row
    return StoredPlan(plan_id, rep_id, day, version, updated_at, document)


async def plan_day(
    session: AsyncSession,
    net: RoadNetwork,
    rep_id: int,
    day: dt.date,
    options: PlanOptions | None = None,
    *,
    now: dt.datetime | None = None,
    max_snap_m: float = 500.0,
    keep_existing: bool = False,
    visible: ColumnElement[bool] | None = None,
) -> DayPlanRecord:
    """Plan ``day`` for ``rep_id`` from scratch and store it as a new version.

    With ``keep_existing`` a plan stored meanwhile (by a concurrent request) wins. ``visible``
    is the caller's account clause: must-visit and excluded ids outside it are NOT_FOUND. A
    must-visit the caller may see but that lies outside the rep's territory (a manager adding
    an account of the team) joins the candidates.
    """
    options = options or PlanOptions()
    if not 1 <= options.max_candidates <= 100:
        raise DayPlanError(
            "maxCandidates must be 1..100", field="options.maxCandidates", code="BAD_USER_INPUT"
        )
    await require_visible(
        session,
        visible,
        **{"options.mustVisit": options.must_visit, "options.exclude": options.exclude},
    )
    now = now or dt.datetime.now(dt.UTC)
    inputs = await _load_inputs(session, rep_id, now, extra_ids=options.must_visit)
    candidates, left = _rank(inputs, options)
    solution, snaps, placed, unreachable, meta = await asyncio.to_thread(
        _solve_infeasible_as_error,
        net,
        inputs,
        candidates,
        day,
        options,
        None,
        None,
        None,
        (),
        0,
        max_snap_m,
    )
    plan = _document(
        net, inputs, day, solution, snaps, placed, unreachable + left, meta, options, [], "home"
    )
    return await _store(session, rep_id, day, plan, keep_existing=keep_existing)


def _solve_infeasible_as_error(*args: Any) -> Any:
    from routing.vrp import InfeasibleProblemError

    try:
        return _solve_day(*args)
    except InfeasibleProblemError as exc:
        issue = exc.issues[0] if exc.issues else None
        raise DayPlanError(
            str(exc),
            field="options.mustVisit" if issue is not None and issue.stop_id else "options",
        ) from exc


async def replan_day(
    session: AsyncSession,
    net: RoadNetwork,
    rep_id: int,
    day: dt.date,
    position: Position,
    at: dt.datetime,
    changes: PlanChanges,
    *,
    max_snap_m: float = 500.0,
    visible: ColumnElement[bool] | None = None,
) -> DayPlanRecord:
    """Re-plan the rest of the day from ``position`` at ``at``; finished visits stay fixed.

    ``visible`` is the caller's account clause: every id in ``changes`` outside it is
    NOT_FOUND on its field, before anything is planned or stored.
    """
    await require_visible(
        session,
        visible,
        **{
            "changes.added": changes.added,
            "changes.cancelled": changes.cancelled,
            "changes.done": changes.done,
        },
    )
    record = await stored_plan(session, rep_id, day)
    if record is None:
        record = await plan_day(session, net, rep_id, day, now=at, max_snap_m=max_snap_m)
    plan = record.plan
    options = PlanOptions.from_json(plan.get("options", {}))
    tz = ZoneInfo(plan["timezone"])
    local_at = at.astimezone(tz)
    if local_at.date() != day:
        raise DayPlanError(
            f"'at' ({local_at.isoformat()}) is not on {day}", field="at", code="BAD_USER_INPUT"
        )
    at_seconds = _seconds(local_at.time())
    visited = set(changes.done) | await _visited_today(session, rep_id, day, tz)
    planned_ids = [s["account_id"] for s in plan["stops"]]
    done_stops = [s | {"status": "done"} for s in plan["stops"] if s["account_id"] in visited]
    exclude = tuple(sorted(set(options.exclude) | set(changes.cancelled)))
    must = tuple(i for i in options.must_visit if i not in visited and i not in exclude)
    options = PlanOptions(**{**_options_kwargs(options), "exclude": exclude, "must_visit": must})
    # Stored must-visits were authorized when the plan was made (a manager may add any account
    # of the team); the added ones were checked against the caller above.
    extras = tuple(dict.fromkeys((*changes.added, *must)))
    inputs = await _load_inputs(session, rep_id, at, extra_ids=extras)
    known = {a.id for a in inputs.accounts}
    missing = [i for i in changes.added if i not in known]
    if missing:
        raise DayPlanError(
            f"accounts not found: {_ids_text(missing)}", field="changes.added", code="NOT_FOUND"
        )
    keep = [i for i in plan.get("candidates", planned_ids) if i not in visited and i not in exclude]
    keep_set = set(keep) | set(changes.added)
    by_id = {a.id: a for a in inputs.accounts}
    # Urgent additions go first among candidates so they are never cut by the candidate limit.
    candidates = [by_id[i] for i in changes.added if i in by_id] + [
        by_id[i] for i in keep if i in by_id and i not in changes.added
    ]
    left = [
        {
            "account_id": i,
            "name": by_id[i].name,
            "reason_code": "cancelled",
            "reason": "cancelled for today",
        }
        for i in changes.cancelled
        if i in by_id
    ]
    previous_order = [str(i) for i in planned_ids if i in keep_set]
    breaks_taken = sum(
        1 for b in plan.get("breaks", []) if dt.datetime.fromisoformat(b["start"]) <= local_at
    )
    solution, snaps, placed, unreachable, meta = await asyncio.to_thread(
        _solve_infeasible_as_error,
        net,
        inputs,
        candidates,
        day,
        options,
        position,
        at_seconds,
        previous_order,
        (),
        breaks_taken,
        max_snap_m,
    )
    new_plan = _document(
        net,
        inputs,
        day,
        solution,
        snaps,
        placed,
        unreachable + left,
        meta,
        options,
        done_stops,
        "current position",
    )
    new_plan["replanned_at"] = local_at.isoformat()
    return await _store(session, rep_id, day, new_plan)


def _options_kwargs(options: PlanOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in PlanOptions.__dataclass_fields__}


async def _visited_today(
    session: AsyncSession, rep_id: int, day: dt.date, tz: ZoneInfo
) -> set[int]:
    start = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
    rows = await session.scalars(
        select(Visit.account_id).where(
            Visit.rep_id == rep_id,
            Visit.check_in_at >= start,
            Visit.check_in_at < start + dt.timedelta(days=1),
        )
    )
    return set(rows)
