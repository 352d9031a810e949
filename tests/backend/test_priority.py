"""The pure priority score: ordering, reasons, weights and the planner's penalty mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from backend.services.priority import (
    PENALTY_SECONDS_PER_POINT,
    AccountFacts,
    PriorityWeights,
    drop_penalty,
    score_accounts,
)

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def test_overdue_dominates_and_reasons_explain() -> None:
    """An account 12 days past its cadence outranks a fresh one with top potential."""
    book = [
        AccountFacts(id=1, potential=100, tier="C", cadence_days=30, last_visit_at=ago(42)),
        AccountFacts(id=2, potential=1000, tier="A", cadence_days=30, last_visit_at=ago(1)),
        AccountFacts(id=3, potential=10, cadence_days=30, last_visit_at=ago(10)),
    ]
    scores = score_accounts(book, NOW)
    assert scores[1].overdue_days == 12 and scores[1].due_in_days == -12
    assert scores[1].reasons[0] == "overdue by 12 days"
    assert scores[2].reasons == ("top 10 % potential", "tier A")
    assert scores[3].reasons == ()
    assert scores[2].due_in_days == 29 and scores[2].overdue_days == 0
    # overdue 42/30 -> 0.7 * 0.40, potential 0.5 * 0.25, tier C 0.3 * 0.15 -> 45.0
    assert scores[1].score == pytest.approx(45.0)
    # overdue 1/60 * .40, potential 1.0 * .25, tier A .15 -> 40.67
    assert scores[2].score == pytest.approx(40.67)
    ranked = sorted(scores.values(), key=lambda p: -p.score)
    assert [p.account_id for p in ranked] == [1, 2, 3]


def test_never_visited_is_fully_overdue() -> None:
    scores = score_accounts([AccountFacts(id=7, cadence_days=14)], NOW)
    assert scores[7].reasons == ("never visited",)
    assert scores[7].due_in_days is None
    assert scores[7].components["overdue"] == 1.0
    assert scores[7].score == pytest.approx(40.0)


def test_due_today_and_due_soon_reasons() -> None:
    scores = score_accounts(
        [
            AccountFacts(id=1, cadence_days=30, last_visit_at=ago(30.2)),
            AccountFacts(id=2, cadence_days=30, last_visit_at=ago(27)),
            AccountFacts(id=3, cadence_days=30, last_visit_at=ago(29), open_opportunities=2),
        ],
        NOW,
    )
    assert scores[1].reasons == ("due today",)
    assert scores[2].reasons == ("due in 3 days",)
    assert scores[3].reasons == ("due in 1 day", "2 open opportunities")


def test_team_weights_change_the_order() -> None:
    """With potential weighted alone, the overdue low-potential account drops below."""
    book = [
        AccountFacts(id=1, potential=1, cadence_days=7, last_visit_at=ago(40)),
        AccountFacts(id=2, potential=50, cadence_days=7, last_visit_at=ago(1)),
    ]
    default = score_accounts(book, NOW)
    assert default[1].score > default[2].score
    only_potential = PriorityWeights.from_json(
        {"overdue": 0, "potential": 1, "fit": 0, "engagement": 0, "opportunities": 0}
    )
    custom = score_accounts(book, NOW, only_potential)
    assert custom[1].score == 0.0 and custom[2].score == 100.0


@pytest.mark.parametrize(
    "raw",
    [
        {"overdue": -1},
        {"potential": float("nan")},
        {"fit": "high"},
        {"tier_fit": [1]},
        dict.fromkeys(("overdue", "potential", "fit", "engagement", "opportunities"), 0),
    ],
)
def test_invalid_team_weights_are_refused(raw: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"weight|tier_fit"):
        PriorityWeights.from_json(raw)


def test_penalty_is_the_score_in_driving_minutes_and_monotonic() -> None:
    assert PENALTY_SECONDS_PER_POINT == 60
    assert drop_penalty(0) == 0
    assert drop_penalty(45.0) == 2700
    assert drop_penalty(100) == 6000
    assert drop_penalty(150) == 6000
    values = [drop_penalty(s / 10) for s in range(1001)]
    assert values == sorted(values)
    with pytest.raises(ValueError):
        drop_penalty(float("nan"))
    book = [AccountFacts(id=1, cadence_days=10, last_visit_at=ago(15))]
    priority = score_accounts(book, NOW)[1]
    assert priority.penalty == drop_penalty(priority.score)


def test_naive_now_and_last_visit_are_utc() -> None:
    aware = score_accounts([AccountFacts(id=1, last_visit_at=ago(31))], NOW)
    naive = score_accounts(
        [AccountFacts(id=1, last_visit_at=ago(31).replace(tzinfo=None))], NOW.replace(tzinfo=None)
    )
    assert aware[1] == naive[1]


def test_due_in_days_agrees_with_the_score() -> None:
    from backend.services.priority import due_in_days

    for days in (0, 0.5, 6.9, 7, 7.01, 30, 400):
        facts = AccountFacts(id=1, cadence_days=7, last_visit_at=ago(days))
        assert (
            due_in_days(facts.last_visit_at, 7, NOW) == score_accounts([facts], NOW)[1].due_in_days
        )
    assert due_in_days(None, 7, NOW) is None


def test_scoring_a_page_against_the_whole_book_matches_scoring_the_book() -> None:
    book = [
        AccountFacts(id=i, potential=float(i), cadence_days=10, last_visit_at=ago(i))
        for i in range(1, 21)
    ]
    whole = score_accounts(book, NOW)
    page = score_accounts(book[5:8], NOW, book_potentials=[a.potential for a in book])
    assert page == {i: whole[i] for i in (6, 7, 8)}
