"""The week plan as a JSON document (what a service stores and the API and phone read).

The document is versioned (``"format"``) and self-contained: times are given both as local
clock strings (ISO 8601, with the zone's offset when a zone is given) for people and clients,
and as seconds since local midnight (``*_s``) so :func:`plan_from_json` restores the exact
:class:`WeekPlan`.

Example:
    >>> doc = plan_to_json(plan, timezone="Europe/Vaduz")  # doctest: +SKIP
    >>> plan_from_json(doc) == plan  # doctest: +SKIP
    True
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from routing.week.model import Churn, DayPlan, PlannedStop, Unscheduled, WeekPlan

FORMAT = 1


def _clock(day: dt.date, seconds: int, timezone: str | None) -> str:
    tz = ZoneInfo(timezone) if timezone else None
    moment = dt.datetime.combine(day, dt.time(0), tzinfo=tz) + dt.timedelta(seconds=seconds)
    return moment.isoformat()


def _stop(day: dt.date, s: PlannedStop, tz: str | None) -> dict[str, Any]:
    return {
        "account_id": s.account_id,
        "arrival": _clock(day, s.arrival, tz),
        "start": _clock(day, s.start, tz),
        "departure": _clock(day, s.departure, tz),
        "arrival_s": s.arrival,
        "start_s": s.start,
        "departure_s": s.departure,
        "appointment_id": s.appointment_id,
    }


def _day(d: DayPlan, tz: str | None) -> dict[str, Any]:
    return {
        "date": d.date.isoformat(),
        "off": d.off,
        "note": d.note,
        "stops": [_stop(d.date, s, tz) for s in d.stops],
        "drive_s": d.drive_s,
        "visit_s": d.visit_s,
        "hours_s": d.hours_s,
        "departure_s": d.departure,
        "end_arrival_s": d.end_arrival,
        "shift_start_s": d.shift_start,
        "shift_end_s": d.shift_end,
        "breaks": [{"start_s": b[0], "duration_s": b[1]} for b in d.breaks],
    }


def plan_to_json(plan: WeekPlan, *, timezone: str | None = None) -> dict[str, Any]:
    """The plan as JSON-ready built-ins (``json.dumps`` it as is)."""
    return {
        "format": FORMAT,
        "kind": "week_plan",
        "start": plan.start.isoformat(),
        "timezone": timezone,
        "days": [_day(d, timezone) for d in plan.days],
        "unscheduled": [
            {
                "account_id": u.account_id,
                "due": u.due.isoformat(),
                "reason_code": u.reason_code,
                "reason": u.reason,
            }
            for u in plan.unscheduled
        ],
        "notes": list(plan.notes),
        "churn": None
        if plan.churn is None
        else {
            "moved": plan.churn.moved,
            "added": plan.churn.added,
            "removed": plan.churn.removed,
            "days_changed": [d.isoformat() for d in plan.churn.days_changed],
        },
        "totals": {
            "visits": plan.visits,
            "drive_s": plan.drive_s,
            "visit_s": sum(d.visit_s for d in plan.days),
        },
        "stats": dict(plan.stats),
    }


def plan_from_json(doc: dict[str, Any]) -> WeekPlan:
    """Inverse of :func:`plan_to_json`.

    Raises:
        ValueError: Not a week plan, or a format this code does not read.
    """
    if doc.get("kind") != "week_plan" or doc.get("format") != FORMAT:
        raise ValueError(
            f"not a week plan of format {FORMAT}: {doc.get('kind')!r} {doc.get('format')!r}"
        )
    days = tuple(
        DayPlan(
            date=dt.date.fromisoformat(d["date"]),
            stops=tuple(
                PlannedStop(
                    s["account_id"],
                    s["arrival_s"],
                    s["start_s"],
                    s["departure_s"],
                    s.get("appointment_id"),
                )
                for s in d["stops"]
            ),
            drive_s=int(d["drive_s"]),
            visit_s=int(d["visit_s"]),
            departure=int(d["departure_s"]),
            end_arrival=int(d["end_arrival_s"]),
            breaks=tuple((int(b["start_s"]), int(b["duration_s"])) for b in d["breaks"]),
            shift_start=int(d["shift_start_s"]),
            shift_end=int(d["shift_end_s"]),
            off=bool(d["off"]),
            note=d.get("note"),
        )
        for d in doc["days"]
    )
    unscheduled = tuple(
        Unscheduled(u["account_id"], dt.date.fromisoformat(u["due"]), u["reason_code"], u["reason"])
        for u in doc["unscheduled"]
    )
    c = doc.get("churn")
    churn = (
        None
        if c is None
        else Churn(
            int(c["moved"]),
            int(c["added"]),
            int(c["removed"]),
            tuple(dt.date.fromisoformat(x) for x in c["days_changed"]),
        )
    )
    return WeekPlan(
        dt.date.fromisoformat(doc["start"]),
        days,
        unscheduled,
        tuple(doc.get("notes", ())),
        churn,
        {k: float(v) for k, v in doc.get("stats", {}).items()},
    )


__all__ = ["FORMAT", "plan_from_json", "plan_to_json"]
