"""Visit windows from an account's OSM ``opening_hours`` tag for one plan date.

Parsing uses ``opening-hours-py`` (a full implementation of the OSM specification: weekdays,
split hours, public holidays with a country, "off", comments), not a home-made regex.
Unknown or unparseable hours do not drop the account: they mean "open during the shift", and
:attr:`OpeningHoursWindows.known` is ``False`` with a note the plan shows to the rep.

Example:
    >>> import datetime as dt
    >>> w = windows_from_opening_hours("Mo-Fr 08:00-12:00,13:30-18:00", dt.date(2025, 3, 3),
    ...                                "Europe/Vaduz")
    >>> [(x.start, x.end) for x in w.windows]
    [(28800, 43200), (48600, 64800)]
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import opening_hours as oh_lib

from routing.vrp.model import TimeWindow

DAY = 86_400
WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


@dataclass(frozen=True, slots=True)
class OpeningHoursWindows:
    """Windows for one date, in seconds since local midnight.

    Attributes:
        windows: Open intervals that day; empty when closed all day; the whole day when the
            hours are unknown (so the shift bounds the visit).
        known: ``False`` when the tag is missing, unparseable, or says "unknown".
        note: Human explanation, e.g. "closed on Mondays" or
            "opening hours unknown: assumed open during the shift".
    """

    windows: list[TimeWindow]
    known: bool
    note: str | None = None

    @property
    def closed(self) -> bool:
        """Closed all day (known hours, no open interval)."""
        return self.known and not self.windows


def _unknown(note: str) -> OpeningHoursWindows:
    return OpeningHoursWindows([TimeWindow(0, DAY)], known=False, note=note)


def windows_from_opening_hours(
    expression: str | None,
    date: dt.date,
    timezone: str,
    *,
    country: str | None = None,
) -> OpeningHoursWindows:
    """Open windows of ``expression`` on ``date`` in ``timezone``.

    Args:
        expression: OSM ``opening_hours`` value (``None`` or empty when the account has none).
        date: The plan's date (local).
        timezone: IANA zone of the plan, e.g. ``"Europe/Vaduz"``.
        country: ISO country code, for ``PH`` (public holiday) rules.

    Returns:
        The windows, whether they are known, and a note for the plan.
    """
    if not expression or not expression.strip():
        return _unknown("opening hours unknown: assumed open during the shift")
    zone = ZoneInfo(timezone)
    try:
        parsed = oh_lib.OpeningHours(expression, timezone=zone, country=country)
    except Exception:  # the library raises ParserError, or country/timezone errors
        return _unknown(
            f"opening hours unparseable ({expression!r}): assumed open during the shift"
        )
    midnight = dt.datetime.combine(date, dt.time(0), tzinfo=zone)
    end = midnight + dt.timedelta(days=1)
    windows: list[TimeWindow] = []
    any_unknown = False
    for a, b, state, _comment in parsed.intervals(midnight, end):
        name = str(state).rsplit(".", 1)[-1].upper()
        if name == "CLOSED":
            continue
        any_unknown |= name == "UNKNOWN"
        s, e = _seconds(a, date), _seconds(b, date)
        if e > s:
            if windows and windows[-1].end >= s:
                windows[-1] = TimeWindow(windows[-1].start, e)
            else:
                windows.append(TimeWindow(s, e))
    if any_unknown:
        return OpeningHoursWindows(
            windows, known=False, note="opening hours partly unknown: assumed open then"
        )
    if not windows:
        return OpeningHoursWindows([], known=True, note=f"closed on {WEEKDAYS[date.weekday()]}")
    return OpeningHoursWindows(windows, known=True, note=None)


def _seconds(t: dt.datetime, date: dt.date) -> int:
    """Wall-clock seconds since ``date``'s midnight (``DAY`` for the next midnight)."""
    naive = t.replace(tzinfo=None)
    delta = naive - dt.datetime.combine(date, dt.time(0))
    return max(0, min(DAY, int(delta.total_seconds())))


__all__ = ["OpeningHoursWindows", "windows_from_opening_hours"]
