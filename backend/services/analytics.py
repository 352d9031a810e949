"""Manager analytics: coverage against cadence and windshield time, set-based.

Every report is a handful of grouped SQL queries whatever the team size (no per-rep or
per-account queries); Python only folds the grouped rows into report rows.

Coverage over a period [from, to] (dates in the team's time zone). An account is *covered*
when both hold:

* it is not overdue at the end of the period (or now, if earlier): whole days since its last
  visit <= its cadence (the same rule as ``overdue_days`` in :mod:`backend.services.priority`);
* it received at least ``floor(period_days / cadence)`` visits in the period, so a long period
  needs one visit per cadence interval, not just a recent one.

Windshield time is drive / (drive + visit), per rep and ISO week (weeks start on Monday):

* *planned* from stored day plans (``day_plans.plan["totals"]`` keys ``drive_seconds`` and
  ``visit_seconds``); days without a plan, or whose plan lacks those keys, are no data;
* *actual* visit time from check-in to check-out (visits without check-out, or longer than
  :data:`MAX_VISIT`, are ignored as unreliable) and actual drive time from breadcrumbs: the
  time between consecutive points at most :data:`MAX_BREADCRUMB_GAP` apart moving at least
  :data:`MIN_DRIVE_SPEED_MPS` (slower is walking or standing, longer gaps are no signal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Date, and_, case, cast, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import (
    Account,
    Alignment,
    AlignmentState,
    Breadcrumb,
    DayPlanRecord,
    Rep,
    Territory,
    TerritoryAssignment,
    User,
    Visit,
)
from backend.db.spatial import haversine_m
from backend.services.timeutil import as_utc

DAY = timedelta(days=1)
MAX_VISIT = timedelta(hours=12)
MAX_BREADCRUMB_GAP = timedelta(minutes=5)
MIN_DRIVE_SPEED_MPS = 2.0
UNASSIGNED = "unassigned"
NO_TIER = "(none)"


@dataclass(frozen=True, slots=True)
class Period:
    """Inclusive local dates of a report and their UTC bounds (end exclusive)."""

    start: date
    end: date
    tz: ZoneInfo

    @property
    def start_utc(self) -> datetime:
        """The first instant of ``start`` in the team's zone, in UTC."""
        return datetime.combine(self.start, time(0), self.tz).astimezone(UTC)

    @property
    def end_utc(self) -> datetime:
        """The first instant after ``end`` in the team's zone, in UTC."""
        return datetime.combine(self.end + DAY, time(0), self.tz).astimezone(UTC)

    def local_date(self, moment: datetime) -> date:
        """The team-local calendar date of an instant."""
        return as_utc(moment).astimezone(self.tz).date()

    def weeks(self) -> list[date]:
        """Mondays of the ISO weeks the period touches."""
        monday = week_start(self.start)
        result = []
        while monday <= self.end:
            result.append(monday)
            monday += timedelta(days=7)
        return result


def week_start(day: date) -> date:
    """The Monday of ``day``'s ISO week."""
    return day - timedelta(days=day.weekday())


def days_since(now: datetime, last: datetime) -> int:
    """Whole days between two instants (the priority module's rule)."""
    return max(0, math.floor((as_utc(now) - as_utc(last)).total_seconds() / DAY.total_seconds()))


@dataclass(slots=True)
class CoverageRow:
    """Coverage of one group of accounts (a rep's, a territory's, a tier's, or all)."""

    key: str
    label: str
    rep_id: int | None = None
    accounts: int = 0
    covered: int = 0
    potential_total: float = 0.0
    potential_covered: float = 0.0
    visits: int = 0

    @property
    def share(self) -> float | None:
        """Covered / accounts (``None`` for an empty group)."""
        return self.covered / self.accounts if self.accounts else None

    @property
    def potential_share(self) -> float | None:
        """Covered potential / total potential (``None`` when there is no potential)."""
        return self.potential_covered / self.potential_total if self.potential_total else None


@dataclass(frozen=True, slots=True)
class OverdueAccount:
    """An account past its cadence at the end of the period."""

    account_id: int
    name: str
    rep_id: int | None
    territory: str
    tier: str | None
    cadence_days: int
    last_visit_at: datetime | None
    overdue_days: int | None  # None: never visited


@dataclass(slots=True)
class CoverageReport:
    """The coverage report of one team and period."""

    team_id: int
    period: Period
    as_of: datetime
    total: CoverageRow
    by_rep: list[CoverageRow] = field(default_factory=list)
    by_territory: list[CoverageRow] = field(default_factory=list)
    by_tier: list[CoverageRow] = field(default_factory=list)
    overdue: list[OverdueAccount] = field(default_factory=list)
    visits_per_day: list[tuple[date, int]] = field(default_factory=list)


async def _active_territories(
    session: AsyncSession, team_id: int
) -> tuple[int | None, list[tuple[int, str, int | None, str | None]]]:
    """The team's active alignment id and its territories (id, name, rep id, rep name)."""
    alignment_id = await session.scalar(
        select(Alignment.id).where(
            Alignment.team_id == team_id, Alignment.state == AlignmentState.ACTIVE
        )
    )
    if alignment_id is None:
        return None, []
    rows = await session.execute(
        select(Territory.id, Territory.name, Territory.rep_id, User.full_name)
        .outerjoin(Rep, Rep.id == Territory.rep_id)
        .outerjoin(User, User.id == Rep.user_id)
        .where(Territory.alignment_id == alignment_id)
        .order_by(Territory.name, Territory.id)
    )
    return alignment_id, [(r[0], r[1], r[2], r[3]) for r in rows]


def _local_day(dialect: str, column: object, period: Period) -> object:
    """SQL expression: the team-local date of a timestamp column.

    PostgreSQL converts with the named zone; SQLite has no zone database, so it shifts by the
    zone's offset at the period start (a DST change moves only visits within an hour of
    midnight, which field visits are not).
    """
    if dialect == "postgresql":
        return cast(func.timezone(period.tz.key, column), Date)
    offset = period.start_utc.astimezone(period.tz).utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    return func.date(column, literal(f"{minutes:+d} minutes"))


async def coverage_report(
    session: AsyncSession,
    *,
    team_id: int,
    period: Period,
    now: datetime,
    overdue_limit: int = 100,
) -> CoverageReport:
    """Coverage of ``team_id``'s accounts over ``period`` (see the module docstring)."""
    as_of = min(period.end_utc, as_utc(now))
    period_days = max(0, days_since(as_of, period.start_utc))
    alignment_id, territories = await _active_territories(session, team_id)
    rep_of_territory = {t_id: rep_id for t_id, _, rep_id, _ in territories}
    territory_name = {t_id: name for t_id, name, _, _ in territories}

    team_accounts = select(Account.id).where(Account.team_id == team_id)
    per_account = (
        select(
            Visit.account_id.label("account_id"),
            func.count(case((Visit.check_in_at >= period.start_utc, 1))).label("n"),
            func.max(Visit.check_in_at).label("last"),
        )
        .where(Visit.check_in_at < as_of, Visit.account_id.in_(team_accounts))
        .group_by(Visit.account_id)
        .subquery()
    )
    assignment = TerritoryAssignment
    query = (
        select(
            Account.id,
            Account.name,
            Account.tier,
            Account.potential,
            Account.visit_cadence_days,
            assignment.territory_id,
            per_account.c.n,
            per_account.c.last,
        )
        .outerjoin(per_account, per_account.c.account_id == Account.id)
        .outerjoin(
            assignment,
            and_(
                assignment.account_id == Account.id,
                assignment.alignment_id == (alignment_id if alignment_id is not None else -1),
            ),
        )
        .where(Account.team_id == team_id)
    )
    rows = (await session.execute(query)).all()

    total = CoverageRow(key="team", label="Team")
    by_rep: dict[int, CoverageRow] = {}
    by_territory: dict[str, CoverageRow] = {}
    for t_id, name, rep_id, rep_name in territories:
        by_territory[str(t_id)] = CoverageRow(key=str(t_id), label=name, rep_id=rep_id)
        if rep_id is not None:
            by_rep[rep_id] = CoverageRow(key=str(rep_id), label=rep_name or "", rep_id=rep_id)
    by_tier: dict[str, CoverageRow] = {}
    overdue: list[OverdueAccount] = []
    for account_id, name, tier, potential, raw_cadence, territory_id, n, last in rows:
        cadence = max(1, raw_cadence)
        visits = int(n or 0)
        since = days_since(as_of, last) if last is not None else None
        recent = since is not None and since <= cadence
        covered = recent and visits >= period_days // cadence
        rep_id = rep_of_territory.get(territory_id) if territory_id is not None else None
        t_key = str(territory_id) if territory_id is not None else UNASSIGNED
        if t_key not in by_territory:
            by_territory[t_key] = CoverageRow(key=t_key, label="Unassigned")
        tier_key = tier or NO_TIER
        if tier_key not in by_tier:
            by_tier[tier_key] = CoverageRow(key=tier_key, label=tier_key)
        groups = [total, by_territory[t_key], by_tier[tier_key]]
        if rep_id is not None and rep_id in by_rep:
            groups.append(by_rep[rep_id])
        for group in groups:
            group.accounts += 1
            group.potential_total += potential
            if covered:
                group.covered += 1
                group.potential_covered += potential
        if not recent:
            overdue.append(
                OverdueAccount(
                    account_id=account_id,
                    name=name,
                    rep_id=rep_id,
                    territory=territory_name.get(territory_id, "Unassigned")
                    if territory_id is not None
                    else "Unassigned",
                    tier=tier,
                    cadence_days=cadence,
                    last_visit_at=as_utc(last) if last is not None else None,
                    overdue_days=since - cadence if since is not None else None,
                )
            )
    overdue.sort(
        key=lambda o: (
            o.overdue_days is not None,
            -(o.overdue_days or 0),
            o.account_id,
        )
    )

    team_reps = select(Rep.id).where(Rep.team_id == team_id)
    in_period = and_(
        Visit.rep_id.in_(team_reps),
        Visit.check_in_at >= period.start_utc,
        Visit.check_in_at < period.end_utc,
    )
    for rep_id, count in await session.execute(
        select(Visit.rep_id, func.count()).where(in_period).group_by(Visit.rep_id)
    ):
        if rep_id in by_rep:
            by_rep[rep_id].visits = int(count)
        total.visits += int(count)
    dialect = session.get_bind().dialect.name
    day = _local_day(dialect, Visit.check_in_at, period)
    per_day = await session.execute(
        select(day, func.count()).where(in_period).group_by(day).order_by(day)  # type: ignore[call-overload]
    )
    visits_per_day = [
        (d if isinstance(d, date) else date.fromisoformat(str(d)), int(c)) for d, c in per_day
    ]
    return CoverageReport(
        team_id=team_id,
        period=period,
        as_of=as_of,
        total=total,
        by_rep=sorted(by_rep.values(), key=lambda r: (r.label, r.key)),
        by_territory=sorted(by_territory.values(), key=lambda r: (r.key == UNASSIGNED, r.label)),
        by_tier=sorted(by_tier.values(), key=lambda r: (r.key == NO_TIER, r.key)),
        overdue=overdue[: max(0, overdue_limit)],
        visits_per_day=visits_per_day,
    )


@dataclass(slots=True)
class WindshieldRow:
    """Planned and actual windshield time of one rep in one ISO week (seconds)."""

    rep_id: int
    rep_name: str
    week_start: date
    planned_drive_s: float = 0.0
    planned_visit_s: float = 0.0
    planned_days: int = 0
    actual_drive_s: float = 0.0
    actual_visit_s: float = 0.0

    @property
    def planned_ratio(self) -> float | None:
        """Planned drive / (drive + visit); ``None`` without plans."""
        total = self.planned_drive_s + self.planned_visit_s
        return self.planned_drive_s / total if self.planned_days and total > 0 else None

    @property
    def actual_ratio(self) -> float | None:
        """Actual drive / (drive + visit); ``None`` without visits or breadcrumbs."""
        total = self.actual_drive_s + self.actual_visit_s
        return self.actual_drive_s / total if total > 0 else None


async def windshield_report(
    session: AsyncSession, *, team_id: int, period: Period
) -> list[WindshieldRow]:
    """Windshield time per rep and week of ``period`` (see the module docstring)."""
    reps = (
        await session.execute(
            select(Rep.id, User.full_name)
            .join(User, User.id == Rep.user_id)
            .where(Rep.team_id == team_id)
            .order_by(User.full_name, Rep.id)
        )
    ).all()
    weeks = period.weeks()
    rows: dict[tuple[int, date], WindshieldRow] = {
        (rep_id, week): WindshieldRow(rep_id=rep_id, rep_name=name, week_start=week)
        for rep_id, name in reps
        for week in weeks
    }
    team_reps = select(Rep.id).where(Rep.team_id == team_id)

    totals = DayPlanRecord.plan["totals"]
    plans = await session.execute(
        select(
            DayPlanRecord.rep_id,
            DayPlanRecord.plan_date,
            totals["drive_seconds"].as_float(),
            totals["visit_seconds"].as_float(),
        ).where(
            DayPlanRecord.rep_id.in_(team_reps),
            DayPlanRecord.plan_date.between(period.start, period.end),
        )
    )
    for rep_id, plan_date, drive, visit in plans:
        row = rows.get((rep_id, week_start(plan_date)))
        if row is None or drive is None or visit is None:
            continue
        row.planned_drive_s += drive
        row.planned_visit_s += visit
        row.planned_days += 1

    visits = await session.execute(
        select(Visit.rep_id, Visit.check_in_at, Visit.check_out_at).where(
            Visit.rep_id.in_(team_reps),
            Visit.check_in_at >= period.start_utc,
            Visit.check_in_at < period.end_utc,
            Visit.check_out_at.is_not(None),
        )
    )
    for rep_id, check_in_at, check_out_at in visits:
        if check_out_at is None:
            continue
        duration = as_utc(check_out_at) - as_utc(check_in_at)
        if duration > MAX_VISIT or duration.total_seconds() < 0:
            continue
        row = rows.get((rep_id, week_start(period.local_date(check_in_at))))
        if row is not None:
            row.actual_visit_s += duration.total_seconds()

    previous = (
        func.lag(Breadcrumb.recorded_at, type_=Breadcrumb.recorded_at.type)
        .over(partition_by=Breadcrumb.rep_id, order_by=Breadcrumb.recorded_at)
        .label("prev_at")
    )
    prev_lat = func.lag(Breadcrumb.lat, type_=Breadcrumb.lat.type).over(
        partition_by=Breadcrumb.rep_id, order_by=Breadcrumb.recorded_at
    )
    prev_lon = func.lag(Breadcrumb.lon, type_=Breadcrumb.lon.type).over(
        partition_by=Breadcrumb.rep_id, order_by=Breadcrumb.recorded_at
    )
    crumbs = await session.execute(
        select(
            Breadcrumb.rep_id,
            Breadcrumb.recorded_at,
            Breadcrumb.lat,
            Breadcrumb.lon,
            previous,
            prev_lat,
            prev_lon,
        ).where(
            Breadcrumb.rep_id.in_(team_reps),
            Breadcrumb.recorded_at >= period.start_utc,
            Breadcrumb.recorded_at < period.end_utc,
        )
    )
    for rep_id, at, lat, lon, prev_at, p_lat, p_lon in crumbs:
        if prev_at is None:
            continue
        gap = (as_utc(at) - as_utc(prev_at)).total_seconds()
        if not 0 < gap <= MAX_BREADCRUMB_GAP.total_seconds():
            continue
        if haversine_m(p_lat, p_lon, lat, lon) / gap < MIN_DRIVE_SPEED_MPS:
            continue
        row = rows.get((rep_id, week_start(period.local_date(prev_at))))
        if row is not None:
            row.actual_drive_s += gap
    return sorted(rows.values(), key=lambda r: (r.rep_name, r.rep_id, r.week_start))


__all__ = [
    "CoverageReport",
    "CoverageRow",
    "OverdueAccount",
    "Period",
    "WindshieldRow",
    "coverage_report",
    "days_since",
    "week_start",
    "windshield_report",
]
