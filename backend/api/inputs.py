"""Bounds on what a caller may send in one argument: lists of ids, free text, dates.

Every limit here answers ``BAD_USER_INPUT`` naming the field, and the message never echoes the
caller's input back in bulk (30,000 ids in, a one-line error out).

Example:
    >>> parse_ids(["1", "2"], "changes.added")
    (1, 2)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import strawberry

from backend.api.errors import bad_input
from backend.api.queries import parse_id

MAX_IDS = 200
"""Most ids one list argument may carry (a day has at most 100 candidates)."""
MAX_NAME = 200
"""Names (alignments, territories): one line on a screen."""
MAX_NOTE = 4000
"""Notes and hand-over remarks: a few paragraphs."""
MAX_SHORT_TEXT = 200
"""Filters and labels (tier, segment)."""
PLAN_WINDOW_DAYS = 400
"""Days to plan lie within this many days of today: a year ahead, last year's look-back."""


def parse_ids(raw: Sequence[strawberry.ID], field: str, maximum: int = MAX_IDS) -> tuple[int, ...]:
    """Parse a list argument of ids, refusing more than ``maximum`` before parsing any."""
    if len(raw) > maximum:
        raise bad_input(field, f"{field} takes at most {maximum} ids, got {len(raw)}")
    return tuple(parse_id(value, field) for value in raw)


def check_text(value: str | None, field: str, maximum: int) -> str | None:
    """``value`` unchanged when it fits in ``maximum`` characters; None passes."""
    if value is not None and len(value) > maximum:
        raise bad_input(field, f"{field} is limited to {maximum} characters, got {len(value)}")
    return value


def check_plan_date(
    day: dt.date, today: dt.date, field: str = "date", window_days: int = PLAN_WINDOW_DAYS
) -> None:
    """A day to plan lies within ``window_days`` of ``today`` (either way)."""
    if abs((day - today).days) > window_days:
        raise bad_input(
            field,
            f"{field} must be within {window_days} days of today ({today.isoformat()}), "
            f"got {day.isoformat()}",
        )


__all__ = [
    "MAX_IDS",
    "MAX_NAME",
    "MAX_NOTE",
    "MAX_SHORT_TEXT",
    "PLAN_WINDOW_DAYS",
    "check_plan_date",
    "check_text",
    "parse_ids",
]
