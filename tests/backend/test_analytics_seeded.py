"""Coverage and windshield on a seeded team of 50 reps x 40 weeks: exact and set-based."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event

from backend.runtime import Runtime
from backend.services import analytics
from tests.factories_visits import seed_big_team

FIRST_MONDAY = date(2024, 1, 1)


async def test_fifty_reps_forty_weeks(runtime: Runtime) -> None:
    """Each rep visits 2 of 4 weekly-cadence accounts every Tuesday: coverage is exactly 50 %,
    and both reports use a fixed number of statements whatever the team size (no N+1)."""
    team = await seed_big_team(
        runtime, reps=50, accounts_per_rep=4, weeks=40, first_monday=FIRST_MONDAY
    )
    assert team.visits == 50 * 40 * 2
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    last_week = FIRST_MONDAY + timedelta(weeks=39)
    period = analytics.Period(last_week, last_week + timedelta(days=6), ZoneInfo("UTC"))
    async with runtime.sessionmaker() as session:
        report = await analytics.coverage_report(
            session, team_id=team.team_id, period=period, now=datetime.now(UTC)
        )
        coverage_statements = len(statements)
        whole = analytics.Period(FIRST_MONDAY, last_week + timedelta(days=6), ZoneInfo("UTC"))
        weeks = await analytics.windshield_report(session, team_id=team.team_id, period=whole)
    event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)

    assert coverage_statements <= 5
    assert len(statements) - coverage_statements <= 5
    assert (report.total.accounts, report.total.covered, report.total.visits) == (200, 100, 100)
    assert report.total.share == 0.5
    assert len(report.by_rep) == 50
    assert {(r.accounts, r.covered, r.visits) for r in report.by_rep} == {(4, 2, 2)}
    assert [(r.key, r.accounts, r.covered) for r in report.by_tier] == [
        ("A", 100, 50),
        ("B", 100, 50),
    ]
    assert len(report.overdue) == 100  # the never-visited half, capped at the default limit
    assert all(o.overdue_days is None for o in report.overdue)
    assert report.visits_per_day == [(last_week + timedelta(days=1), 100)]

    assert len(weeks) == 50 * 40
    assert {
        (w.actual_visit_s, w.actual_drive_s, w.actual_ratio, w.planned_ratio) for w in weeks
    } == {(3600.0, 0.0, 0.0, None)}
