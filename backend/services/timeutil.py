"""UTC helpers: the database stores instants in UTC, SQLite hands them back naive.

SQLAlchemy's SQLite ``DateTime`` writes the wall-clock fields and drops the offset, so every
instant is converted to UTC before it is stored and read back as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime (naive values are UTC by convention)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_now() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def local_today(timezone: str) -> date:
    """Today's date in ``timezone``: effective dates are local dates, and between midnight
    there and midnight UTC the two calendars disagree."""
    return datetime.now(ZoneInfo(timezone)).date()


__all__ = ["as_utc", "local_today", "utc_now"]
