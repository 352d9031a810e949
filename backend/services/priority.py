"""Explainable account priority: one pure function shared by the account list and the planner.

The score (0-100) blends five components, each normalised to 0..1:

* ``overdue``: days since the last visit divided by the cadence interval, capped at twice the
  cadence (a never-visited account counts as fully overdue). It is the heaviest weight by
  default, because a missed cadence is what a rep's manager asks about first.
* ``potential``: the account's potential as a percentile of the book being scored, so one
  outlier does not flatten everybody else.
* ``fit``: tier / ideal-customer fit, from a tier -> value map (A=1, B=0.6, C=0.3).
* ``engagement``: the CRM engagement value, clamped to 0..1.
* ``opportunities``: open opportunities, saturating at three.

Every score carries its reasons ("overdue by 12 days", "top 10 % potential"), ordered by how
much they contributed. :func:`drop_penalty` maps a score to the integer cost the day planner
pays for leaving the account out, so the list's order and the route's choices agree.

Example:
    >>> from datetime import datetime, timezone
    >>> now = datetime(2025, 3, 1, tzinfo=timezone.utc)
    >>> facts = [AccountFacts(id=1, potential=10.0, tier="A", cadence_days=30,
    ...                       last_visit_at=datetime(2025, 1, 1, tzinfo=timezone.utc))]
    >>> score_accounts(facts, now)[1].overdue_days
    29
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SECONDS_PER_DAY = 86_400
PENALTY_SECONDS_PER_POINT = 60
"""One score point is worth one minute of driving: a score-100 account justifies a 100-minute
detour, a score-10 account ten minutes."""

COMPONENTS = ("overdue", "potential", "fit", "engagement", "opportunities")
DEFAULT_TIER_FIT: Mapping[str, float] = {"A": 1.0, "B": 0.6, "C": 0.3}
OPPORTUNITY_SATURATION = 3
OVERDUE_CAP = 2.0  # days since last visit / cadence at which the overdue component is full


@dataclass(frozen=True, slots=True)
class PriorityWeights:
    """Relative weights of the components (any non-negative numbers; they are normalised).

    Attributes:
        overdue: Weight of cadence overdue-ness (default 0.40, the largest on purpose).
        potential: Weight of the potential percentile (0.25).
        fit: Weight of tier / ideal-customer fit (0.15).
        engagement: Weight of engagement (0.10).
        opportunities: Weight of open opportunities (0.10).
        tier_fit: Tier -> fit value in 0..1; unknown tiers count 0.
    """

    overdue: float = 0.40
    potential: float = 0.25
    fit: float = 0.15
    engagement: float = 0.10
    opportunities: float = 0.10
    tier_fit: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TIER_FIT))

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> PriorityWeights:
        """Weights from ``Team.priority_weights``; missing keys keep their defaults.

        Invalid values (negative, non-finite, non-numeric, or all weights zero) raise
        ``ValueError`` so a broken team setting is noticed instead of silently ranking badly.
        """
        if not raw:
            return cls()
        base = cls()
        values: dict[str, float] = {}
        for name in COMPONENTS:
            value = raw.get(name, getattr(base, name))
            values[name] = _weight(name, value)
        tiers = raw.get("tier_fit", base.tier_fit)
        if not isinstance(tiers, Mapping):
            raise ValueError("tier_fit must map tier names to numbers")
        tier_fit = {str(k).upper(): min(1.0, _weight(f"tier_fit.{k}", v)) for k, v in tiers.items()}
        if sum(values.values()) <= 0:
            raise ValueError("at least one priority weight must be positive")
        return cls(tier_fit=tier_fit, **values)

    def total(self) -> float:
        """Sum of the component weights (the normaliser)."""
        return self.overdue + self.potential + self.fit + self.engagement + self.opportunities


def _weight(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"priority weight {name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"priority weight {name} must be finite and >= 0, got {value!r}")
    return number


@dataclass(frozen=True, slots=True)
class AccountFacts:
    """The plain values the score needs (no ORM, so the planner and tests can build them)."""

    id: int
    potential: float = 0.0
    tier: str | None = None
    engagement: float = 0.0
    open_opportunities: int = 0
    cadence_days: int = 30
    last_visit_at: datetime | None = None


@dataclass(slots=True)
class Priority:
    """An account's score with the reasons behind it.

    Not frozen only because frozen dataclasses construct several times slower, and a list
    builds thousands of these per request; treat instances as read-only.

    Reasons are rendered on demand from the stored inputs: a list of 2,000 accounts needs all
    the scores to sort, but only the 50 on the page need their sentences.

    Attributes:
        account_id: The account.
        score: 0..100, higher is more urgent.
        due_in_days: Whole days until the cadence is due (0 = due today, negative = overdue);
            ``None`` when the account was never visited.
        overdue_days: Whole days past the cadence (0 when not overdue).
        values: Each component's 0..1 value, in :data:`COMPONENTS` order.
        weights: The weights that produced the score.
        tier: The account's tier (for the fit reason).
        open_opportunities: Open opportunities (for their reason).
    """

    account_id: int
    score: float
    due_in_days: int | None
    overdue_days: int
    values: tuple[float, float, float, float, float]
    weights: PriorityWeights
    tier: str | None = None
    open_opportunities: int = 0

    @property
    def components(self) -> dict[str, float]:
        """Each component's 0..1 value by name."""
        return dict(zip(COMPONENTS, self.values, strict=True))

    @property
    def reasons(self) -> tuple[str, ...]:
        """Human reasons, the cadence one first, then by contribution."""
        return _reasons(self)

    @property
    def penalty(self) -> int:
        """The planner's drop penalty for this account (see :func:`drop_penalty`)."""
        return drop_penalty(self.score)


def drop_penalty(score: float) -> int:
    """Integer cost (seconds of driving) the day planner pays for not visiting the account.

    Monotonic in the score, so a higher-ranked account is never dropped in favour of a
    lower-ranked one at the same detour cost.
    """
    if not math.isfinite(score):
        raise ValueError(f"score must be finite, got {score!r}")
    return round(max(0.0, min(100.0, score)) * PENALTY_SECONDS_PER_POINT)


def _as_utc(moment: datetime) -> datetime:
    """Naive datetimes (SQLite returns them) are UTC by the repositories' convention."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def score_accounts(
    accounts: Iterable[AccountFacts],
    now: datetime,
    weights: PriorityWeights | None = None,
    *,
    book_potentials: Sequence[float] | None = None,
) -> dict[int, Priority]:
    """Score accounts at ``now``; potential percentiles are relative to the book.

    Args:
        accounts: The accounts to score (a rep's book, a team's, or a page of one).
        now: The moment of scoring (timezone-aware, or naive UTC).
        weights: Component weights; the defaults when ``None``.
        book_potentials: Potentials of the whole book the percentiles refer to; defaults to
            the scored accounts. Pass it to score a subset exactly as within the whole book.

    Returns:
        Priority by account id.
    """
    weights = weights or PriorityWeights()
    scored = list(accounts)
    now = _as_utc(now)
    potentials = sorted(
        book_potentials if book_potentials is not None else [a.potential for a in scored]
    )
    n_book = len(potentials)
    w_overdue, w_potential, w_fit = weights.overdue, weights.potential, weights.fit
    w_engagement, w_opps = weights.engagement, weights.opportunities
    scale = 100.0 / weights.total()
    tier_fit = weights.tier_fit
    result: dict[int, Priority] = {}
    for account in scored:
        cadence = account.cadence_days if account.cadence_days > 0 else 1
        last = account.last_visit_at
        if last is None:
            overdue = 1.0
            due_in: int | None = None
            overdue_days = 0
        else:
            if last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
            days_since = math.floor((now - last).total_seconds() / SECONDS_PER_DAY)
            days_since = max(days_since, 0)
            overdue = min(days_since / cadence, OVERDUE_CAP) / OVERDUE_CAP
            due_in = cadence - days_since
            overdue_days = -due_in if due_in < 0 else 0
        if n_book > 1:
            pct = bisect.bisect_left(potentials, account.potential) / (n_book - 1)
        else:
            pct = 1.0 if n_book and account.potential > 0 else 0.0
        tier = account.tier.upper() if account.tier else None
        fit = tier_fit.get(tier, 0.0) if tier else 0.0
        engagement = min(1.0, max(0.0, account.engagement))
        opps = min(max(0, account.open_opportunities), OPPORTUNITY_SATURATION)
        opp_value = opps / OPPORTUNITY_SATURATION
        score = (
            w_overdue * overdue
            + w_potential * pct
            + w_fit * fit
            + w_engagement * engagement
            + w_opps * opp_value
        ) * scale
        result[account.id] = Priority(
            account_id=account.id,
            score=round(score, 2),
            due_in_days=due_in,
            overdue_days=overdue_days,
            values=(overdue, pct, fit, engagement, opp_value),
            weights=weights,
            tier=tier,
            open_opportunities=account.open_opportunities,
        )
    return result


def due_in_days(last_visit_at: datetime | None, cadence_days: int, now: datetime) -> int | None:
    """Whole days until the cadence is due (negative: overdue); ``None`` if never visited.

    The same rule :func:`score_accounts` applies, for callers that filter on 'due' without
    scoring.
    """
    if last_visit_at is None:
        return None
    elapsed = (_as_utc(now) - _as_utc(last_visit_at)).total_seconds()
    return max(1, cadence_days) - max(0, math.floor(elapsed / SECONDS_PER_DAY))


def _reasons(priority: Priority) -> tuple[str, ...]:
    """Reasons for the components that contributed, the cadence one always first."""
    _, pct, fit, engagement, _ = priority.values
    due_in, overdue_days = priority.due_in_days, priority.overdue_days
    texts: dict[str, str] = {}
    if due_in is None:
        texts["overdue"] = "never visited"
    elif overdue_days > 0:
        texts["overdue"] = f"overdue by {overdue_days} day{'s' if overdue_days != 1 else ''}"
    elif due_in == 0:
        texts["overdue"] = "due today"
    elif due_in <= 7:
        texts["overdue"] = f"due in {due_in} day{'s' if due_in != 1 else ''}"
    if pct >= 0.5:
        top = max(10, math.ceil(round((1.0 - pct) * 10, 6)) * 10)
        texts["potential"] = f"top {top} % potential"
    if fit > 0 and priority.tier:
        texts["fit"] = f"tier {priority.tier}"
    if engagement >= 0.5:
        texts["engagement"] = f"engagement {round(engagement * 100)} %"
    opps = priority.open_opportunities
    if opps > 0:
        texts["opportunities"] = f"{opps} open opportunit{'ies' if opps != 1 else 'y'}"
    contribution = {
        name: getattr(priority.weights, name) * value
        for name, value in zip(COMPONENTS, priority.values, strict=True)
    }
    ordered = sorted(
        texts, key=lambda name: (name != "overdue", -contribution[name], COMPONENTS.index(name))
    )
    return tuple(texts[name] for name in ordered)


__all__ = [
    "PENALTY_SECONDS_PER_POINT",
    "AccountFacts",
    "Priority",
    "PriorityWeights",
    "drop_penalty",
    "due_in_days",
    "score_accounts",
]
