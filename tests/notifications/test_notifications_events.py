"""Event types: stable ids, JSON round trips, validation, and the push payload budget."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from notifications import (
    MAX_PLAINTEXT,
    AccountHandover,
    AccountReassigned,
    DayPlanUpdated,
    Event,
    EventDecodeError,
    EventType,
    TerritoryChanged,
    build_push_payload,
    event_from_json,
)


def territory_change(n_gained: int = 2, note: str = "Call before noon") -> TerritoryChanged:
    return TerritoryChanged(
        rep_id="rep-1",
        territory_id="t-north",
        effective_date=date(2025, 3, 3),
        gained=tuple(AccountHandover(f"acc-{i}", f"Account {i}", note) for i in range(n_gained)),
        lost=(AccountHandover("acc-x", "Lost Ltd"),),
        alignment_version_id="v7",
    )


def test_type_ids_are_stable_strings():
    """The stored type ids never change silently (renaming one would strand outbox rows)."""
    assert [t.value for t in EventType] == [
        "territory.changed.v1",
        "day_plan.updated.v1",
        "account.reassigned.v1",
    ]


@pytest.mark.parametrize(
    "details",
    [
        territory_change(),
        DayPlanUpdated("rep-2", date(2025, 3, 4), stop_count=9, reason="Visit added", plan_id="p1"),
        AccountReassigned("acc-5", "Bakery", "rep-1", "rep-2", date(2025, 3, 5), "Keys at desk"),
    ],
)
def test_json_round_trip_preserves_event_and_details(details):
    """Serializing and parsing gives back an equal event whose typed details are equal too."""
    event = details.to_event()
    parsed = event_from_json(event.to_json())
    assert parsed == event
    assert parsed.id == event.id
    assert parsed.details() == details
    assert event.to_json() == parsed.to_json()


def test_recipients_default_and_dedupe():
    """A reassignment notifies both reps once each; explicit recipients override."""
    change = AccountReassigned("a", "A", "rep-1", "rep-2", date(2025, 1, 1))
    assert change.to_event().recipients == ("rep-1", "rep-2")
    assert change.to_event(recipients=["m", "m", "rep-2"]).recipients == ("m", "rep-2")
    assert territory_change().to_event().recipients == ("rep-1",)


def test_ids_are_unique_and_kept():
    """Each recording gets a fresh uuid4; an explicit id survives (relay retries reuse it)."""
    a, b = territory_change().to_event(), territory_change().to_event()
    assert a.id != b.id and len(a.id) == 36
    assert territory_change().to_event(event_id="fixed").id == "fixed"


def test_occurred_at_normalized_to_utc_and_naive_rejected():
    """Timestamps are compared across processes, so they must be aware and in UTC."""
    paris = timezone(timedelta(hours=1))
    event = Event(
        EventType.DAY_PLAN_UPDATED, ("r",), {}, occurred_at=datetime(2025, 1, 1, 12, tzinfo=paris)
    )
    assert event.occurred_at == datetime(2025, 1, 1, 11, tzinfo=UTC)
    assert event.occurred_at.tzinfo is UTC
    with pytest.raises(ValueError, match="timezone-aware"):
        Event(EventType.DAY_PLAN_UPDATED, ("r",), {}, occurred_at=datetime(2025, 1, 1))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not JSON"),
        ("[1]", "must be an object"),
        (
            '{"id":"1","type":"nope.v1","recipients":[],"payload":{},"occurred_at":"2025-01-01T00:00:00+00:00"}',
            "invalid event",
        ),
        (
            '{"id":"1","type":"day_plan.updated.v1","recipients":[1],"payload":{},"occurred_at":"2025-01-01T00:00:00+00:00"}',
            "recipients",
        ),
        ('{"id":"1","type":"day_plan.updated.v1","recipients":[],"payload":{}}', "invalid event"),
    ],
)
def test_decode_errors_are_explicit(text, message):
    """Malformed messages raise EventDecodeError, which consumers dead-letter."""
    with pytest.raises(EventDecodeError, match=message):
        event_from_json(text)


def test_details_of_bad_payload_raise_decode_error():
    event = Event(EventType.TERRITORY_CHANGED, ("r",), {"rep_id": "r"})
    with pytest.raises(EventDecodeError, match="TerritoryChanged"):
        event.details()


def test_push_payload_small_event_is_complete():
    """A small notice carries the full payload and says it is not truncated."""
    event = territory_change().to_event()
    payload, truncated = build_push_payload(event, cursor=12)
    doc = json.loads(payload)
    assert not truncated and doc["truncated"] is False
    assert doc["data"] == event.to_dict()["payload"]
    assert doc["cursor"] == 12 and doc["event_id"] == event.id
    assert doc["title"] == "Your territory changes"
    assert doc["body"] == "From 2025-03-03: 2 accounts gained, 1 account lost."


def test_push_payload_large_event_is_summarized_within_budget():
    """300 accounts with long notes do not fit: lists are cut with totals, and it says so."""
    event = territory_change(300, note="n" * 500).to_event()
    assert len(event.to_json()) > 10 * MAX_PLAINTEXT
    payload, truncated = build_push_payload(event)
    doc = json.loads(payload)
    assert truncated and doc["truncated"] is True
    assert len(payload) <= MAX_PLAINTEXT == 3993
    assert doc["data"]["gained_total"] == 300
    assert 0 < len(doc["data"]["gained"]) < 300
    assert doc["body"].startswith("From 2025-03-03: 300 accounts gained")


def test_push_payload_falls_back_to_headline_under_tiny_budget():
    event = territory_change(50).to_event()
    payload, truncated = build_push_payload(event, limit=300)
    doc = json.loads(payload)
    assert truncated and len(payload) <= 300
    assert "data" not in doc and doc["event_id"] == event.id
