"""OSM opening_hours -> visit windows for a plan date."""

from __future__ import annotations

import datetime as dt

from routing.vrp import TimeWindow, windows_from_opening_hours

MONDAY = dt.date(2025, 3, 3)
TZ = "Europe/Vaduz"


def test_split_hours_give_two_windows() -> None:
    w = windows_from_opening_hours("Mo-Fr 08:00-12:00,13:30-18:00", MONDAY, TZ)
    assert w.known and w.note is None
    assert w.windows == [TimeWindow(8 * 3600, 12 * 3600), TimeWindow(13 * 3600 + 1800, 18 * 3600)]


def test_closed_weekday_says_so() -> None:
    w = windows_from_opening_hours("Tu-Sa 08:00-12:00", MONDAY, TZ)
    assert w.known and w.closed and w.windows == []
    assert w.note == "closed on Mondays"


def test_unparseable_means_unknown_and_open() -> None:
    w = windows_from_opening_hours("by appointment, call ahead", MONDAY, TZ)
    assert not w.known
    assert w.windows == [TimeWindow(0, 86400)]
    assert w.note is not None and "assumed open during the shift" in w.note


def test_missing_means_unknown() -> None:
    w = windows_from_opening_hours(None, MONDAY, TZ)
    assert not w.known and w.windows == [TimeWindow(0, 86400)]


def test_always_open() -> None:
    w = windows_from_opening_hours("24/7", MONDAY, TZ)
    assert w.known and w.windows == [TimeWindow(0, 86400)]
