"""Factories for visits, breadcrumbs, plans and a large seeded team (set-based inserts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from backend.db.models import (
    Account,
    Alignment,
    AlignmentState,
    Breadcrumb,
    DayPlanRecord,
    Rep,
    Role,
    Team,
    Territory,
    TerritoryAssignment,
    User,
    Visit,
)
from backend.runtime import Runtime

_seq = iter(range(1, 10**9))


def client_id() -> str:
    """A fresh client id shaped like the phone's."""
    return f"test-client-{next(_seq):08d}"


async def set_accounts(runtime: Runtime, ids: list[int], **values: Any) -> None:
    """Update columns of the given accounts."""
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(update(Account).where(Account.id.in_(ids)).values(**values))


async def account_row(runtime: Runtime, account_id: int) -> Account:
    """Fresh read of one account."""
    async with runtime.sessionmaker() as session:
        row = await session.get(Account, account_id)
        assert row is not None
        return row


async def visits_of(runtime: Runtime, account_id: int) -> list[Visit]:
    """All visits of an account, oldest first."""
    async with runtime.sessionmaker() as session:
        return list(
            await session.scalars(
                select(Visit).where(Visit.account_id == account_id).order_by(Visit.id)
            )
        )


async def add_visits(runtime: Runtime, rows: list[dict[str, Any]]) -> None:
    """Insert visits in one statement (check_in_at etc. as aware UTC datetimes)."""
    for row in rows:
        row.setdefault("client_id", client_id())
        row.setdefault("flagged_far", False)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(insert(Visit), rows)


async def add_breadcrumbs(
    runtime: Runtime, rep_id: int, points: list[tuple[datetime, float, float]]
) -> None:
    """Insert breadcrumbs for a rep in one statement."""
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            insert(Breadcrumb),
            [
                {"rep_id": rep_id, "recorded_at": t, "lat": lat, "lon": lon}
                for t, lat, lon in points
            ],
        )


async def add_day_plan(runtime: Runtime, rep_id: int, day: date, plan: dict[str, Any]) -> None:
    """Store a day plan row as the planner would."""
    async with runtime.sessionmaker() as session, session.begin():
        session.add(DayPlanRecord(rep_id=rep_id, plan_date=day, plan=plan))


@dataclass
class BigTeam:
    """Ids of the seeded large team."""

    team_id: int
    rep_ids: list[int] = field(default_factory=list)
    account_ids: list[int] = field(default_factory=list)
    visits: int = 0


async def seed_big_team(
    runtime: Runtime,
    *,
    reps: int,
    accounts_per_rep: int,
    weeks: int,
    first_monday: date,
    visited_share_per_rep: float = 0.5,
    name: str = "Big team",
) -> BigTeam:
    """A team of ``reps`` reps; each rep visits the first half of their accounts every week.

    Every account has a 7-day cadence; the visited half gets one visit each Tuesday at 09:00
    UTC, the other half none. All inserts are set-based (one statement per table).
    """
    async with runtime.sessionmaker() as session, session.begin():
        team = Team(name=name, timezone="UTC")
        session.add(team)
        await session.flush()
        users = (
            (
                await session.execute(
                    insert(User).returning(User.id),
                    [
                        {
                            "email": f"{name.replace(' ', '-').lower()}-{i}@x.test",
                            "full_name": f"Big Rep {i:03d}",
                            "password_hash": "x",
                            "role": Role.REP,
                            "team_id": team.id,
                            "is_active": True,
                        }
                        for i in range(reps)
                    ],
                )
            )
            .scalars()
            .all()
        )
        rep_ids = list(
            (
                await session.execute(
                    insert(Rep).returning(Rep.id),
                    [
                        {
                            "user_id": uid,
                            "team_id": team.id,
                            "home_lat": 47.1,
                            "home_lon": 9.5,
                            "home": (47.1, 9.5),
                            "working_days": "Mo,Tu,We,Th,Fr",
                            "skills": [],
                            "active": True,
                        }
                        for uid in users
                    ],
                )
            )
            .scalars()
            .all()
        )
        account_rows = []
        for r in range(reps):
            for a in range(accounts_per_rep):
                lat, lon = 47.0 + r * 0.001, 9.4 + a * 0.001
                account_rows.append(
                    {
                        "external_id": f"{name}-{r}-{a}",
                        "team_id": team.id,
                        "name": f"Big {r:03d}-{a:03d}",
                        "lat": lat,
                        "lon": lon,
                        "location": (lat, lon),
                        "tier": "A" if a % 2 == 0 else "B",
                        "potential": 100.0,
                        "visit_cadence_days": 7,
                        "visit_duration_min": 30,
                        "engagement": 0.0,
                        "open_opportunities": 0,
                    }
                )
        account_ids = list(
            (await session.execute(insert(Account).returning(Account.id), account_rows))
            .scalars()
            .all()
        )
        alignment = Alignment(team_id=team.id, name="big v1", state=AlignmentState.ACTIVE)
        session.add(alignment)
        await session.flush()
        territory_ids = list(
            (
                await session.execute(
                    insert(Territory).returning(Territory.id),
                    [
                        {
                            "alignment_id": alignment.id,
                            "rep_id": rid,
                            "name": f"T{i:03d}",
                            "locked": False,
                        }
                        for i, rid in enumerate(rep_ids)
                    ],
                )
            )
            .scalars()
            .all()
        )
        await session.execute(
            insert(TerritoryAssignment),
            [
                {
                    "alignment_id": alignment.id,
                    "account_id": account_ids[r * accounts_per_rep + a],
                    "territory_id": territory_ids[r],
                    "locked": False,
                }
                for r in range(reps)
                for a in range(accounts_per_rep)
            ],
        )
        visited = int(accounts_per_rep * visited_share_per_rep)
        visit_rows = []
        n = 0
        for w in range(weeks):
            tuesday = datetime.combine(
                first_monday + timedelta(days=7 * w + 1), datetime.min.time(), UTC
            )
            at = tuesday + timedelta(hours=9)
            for r in range(reps):
                for a in range(visited):
                    n += 1
                    visit_rows.append(
                        {
                            "client_id": f"{name.replace(' ', '-')}-{n}",
                            "account_id": account_ids[r * accounts_per_rep + a],
                            "rep_id": rep_ids[r],
                            "check_in_at": at,
                            "check_out_at": at + timedelta(minutes=30),
                            "flagged_far": False,
                        }
                    )
        await session.execute(insert(Visit), visit_rows)
    return BigTeam(
        team_id=team.id, rep_ids=rep_ids, account_ids=account_ids, visits=len(visit_rows)
    )
