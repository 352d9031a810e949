"""Explainable account priority: one score shared by the account list and the planner.

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

:func:`score_in_book` is the definition (:func:`score_accounts` applies it to a book).
:func:`score_sql` is its SQL twin, which lets the account list rank a whole book in the
database; the tests hold the two equal, page by page, on both backends.

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
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Float,
    Integer,
    bindparam,
    case,
    cast,
    extract,
    func,
    literal,
    null,
)

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

    def signature(self) -> tuple[Any, ...]:
        """The weights as a hashable value (equal weights, equal signatures)."""
        return (
            self.overdue,
            self.potential,
            self.fit,
            self.engagement,
            self.opportunities,
            tuple(sorted(self.tier_fit.items())),
        )


_DEFAULT_WEIGHTS = PriorityWeights()


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


def potential_percentile(below: int, book_size: int, potential: float) -> float:
    """The potential component: the share of the rest of the book with a lower potential.

    Args:
        below: Accounts of the book with a strictly lower potential.
        book_size: Accounts in the book (including this one).
        potential: This account's potential (decides a book of one: top if positive).
    """
    if book_size > 1:
        return below / (book_size - 1)
    return 1.0 if book_size and potential > 0 else 0.0


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
    scored = list(accounts)
    potentials = sorted(
        book_potentials if book_potentials is not None else [a.potential for a in scored]
    )
    n_book = len(potentials)
    return {
        account.id: score_in_book(
            account,
            now,
            weights,
            below=bisect.bisect_left(potentials, account.potential),
            book_size=n_book,
        )
        for account in scored
    }


def score_in_book(
    account: AccountFacts,
    now: datetime,
    weights: PriorityWeights | None = None,
    *,
    below: int,
    book_size: int,
) -> Priority:
    """Score one account whose place in the book's potentials is already known.

    :func:`score_accounts` calls this for every account; the account list calls it for a page
    whose ``below`` / ``book_size`` came from SQL (``rank()`` / ``count()`` over the book).

    Args:
        account: The account.
        now: The moment of scoring (timezone-aware, or naive UTC).
        weights: Component weights; the defaults when ``None``.
        below: Accounts of the book with a strictly lower potential.
        book_size: Accounts in the book.
    """
    weights = weights or _DEFAULT_WEIGHTS
    cadence = account.cadence_days if account.cadence_days > 0 else 1
    last = account.last_visit_at
    if last is None:
        overdue = 1.0
        due_in: int | None = None
        overdue_days = 0
    else:
        days_since = max(_whole_days(_as_utc(now) - _as_utc(last)), 0)
        overdue = min(days_since / cadence, OVERDUE_CAP) / OVERDUE_CAP
        due_in = cadence - days_since
        overdue_days = -due_in if due_in < 0 else 0
    pct = potential_percentile(below, book_size, account.potential)
    tier = account.tier.upper() if account.tier else None
    fit = weights.tier_fit.get(tier, 0.0) if tier else 0.0
    engagement = min(1.0, max(0.0, account.engagement))
    opps = min(max(0, account.open_opportunities), OPPORTUNITY_SATURATION)
    opp_value = opps / OPPORTUNITY_SATURATION
    score = (
        weights.overdue * overdue
        + weights.potential * pct
        + weights.fit * fit
        + weights.engagement * engagement
        + weights.opportunities * opp_value
    ) * (100.0 / weights.total())
    return Priority(
        account_id=account.id,
        score=round(score, 2),
        due_in_days=due_in,
        overdue_days=overdue_days,
        values=(overdue, pct, fit, engagement, opp_value),
        weights=weights,
        tier=tier,
        open_opportunities=account.open_opportunities,
    )


def _whole_days(elapsed: timedelta) -> int:
    """Whole days in ``elapsed``, floored (the SQL twin repeats these exact float steps)."""
    return math.floor(elapsed.total_seconds() / SECONDS_PER_DAY)


def due_in_days(last_visit_at: datetime | None, cadence_days: int, now: datetime) -> int | None:
    """Whole days until the cadence is due (negative: overdue); ``None`` if never visited.

    The same rule :func:`score_accounts` applies, for callers that filter on 'due' without
    scoring.
    """
    if last_visit_at is None:
        return None
    return max(1, cadence_days) - max(0, _whole_days(_as_utc(now) - _as_utc(last_visit_at)))


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


# -- The same score in SQL ------------------------------------------------------------------------
#
# The account list ranks a whole book in the database and reads back one page. The builders
# below translate :func:`score_in_book` step by step into SQL over any columns (a CTE's, say):
# IEEE doubles on PostgreSQL and SQLite alike, the same operations in the same order, and whole
# days taken from exact microseconds with the same two divisions and floor as
# :func:`_whole_days`. The page's scores, reasons and penalties are still computed by
# :func:`score_in_book`; SQL only decides which accounts are on the page and in what order.
# That order is the score in hundredths (what the list shows, then the account id); a score
# within ``MIDPOINT_TOLERANCE`` of a rounding midpoint is flagged so the caller can re-rank those
# few accounts by Python's own ``round``.

MIDPOINT_TOLERANCE = 1e-6
"""How close (in hundredths) to x.5 a SQL score must be to be re-ranked in Python."""


@dataclass(frozen=True, slots=True)
class BookColumns:
    """SQL expressions of the facts :func:`score_in_book` reads, e.g. the columns of a CTE.

    ``below`` and ``book_size`` are ``rank() - 1`` and ``count()`` over the book's potentials
    (per team), so that a filter applied afterwards does not change the percentiles.
    """

    team_id: ColumnElement[Any]
    potential: ColumnElement[Any]
    tier: ColumnElement[Any]
    engagement: ColumnElement[Any]
    open_opportunities: ColumnElement[Any]
    cadence_days: ColumnElement[Any]
    last_visit_at: ColumnElement[Any]
    below: ColumnElement[Any]
    book_size: ColumnElement[Any]


@dataclass(frozen=True, slots=True)
class ScoreSQL:
    """The score of :func:`score_in_book` as SQL expressions.

    Attributes:
        due_in_days: As :attr:`Priority.due_in_days` (NULL when never visited).
        score: The unrounded score (select it once, then rank it with :func:`rank_sql`).
    """

    due_in_days: ColumnElement[Any]
    score: ColumnElement[Any]


# One instance of each type: SQLAlchemy memoizes a type's cache key per instance.
_FLOAT = Float()
_INTEGER = Integer()
_TIMESTAMP = DateTime(timezone=True)


def _num(value: float) -> ColumnElement[Any]:
    """A float bound as a double on both backends (never PostgreSQL's NUMERIC)."""
    return literal(float(value), _FLOAT)


def _int(value: int) -> ColumnElement[Any]:
    return literal(value, _INTEGER)


def _as_float(value: ColumnElement[Any]) -> ColumnElement[Any]:
    return cast(value, _FLOAT)


def _least(dialect: str, *values: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.min(*values) if dialect == "sqlite" else func.least(*values)


def _greatest(dialect: str, *values: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.max(*values) if dialect == "sqlite" else func.greatest(*values)


def _floor_clamped(dialect: str, value: ColumnElement[Any]) -> ColumnElement[Any]:
    """``max(floor(value), 0)``; SQLite truncates, which agrees once clamped at zero."""
    floored = cast(value, _INTEGER) if dialect == "sqlite" else func.floor(value)
    return _greatest(dialect, floored, _int(0))


NOW_PARAMETER = "priority_now"
"""The bound parameter the SQL score reads the scoring instant from (see :func:`score_params`)."""


def score_params(now: datetime, dialect: str) -> dict[str, Any]:
    """Execution parameters of statements built with :func:`score_sql`: the scoring instant.

    Statements stay independent of the clock, so a caller can build one once and run it again.
    """
    now = _as_utc(now)
    if dialect == "postgresql":
        return {NOW_PARAMETER: now}
    return {NOW_PARAMETER: (now - _EPOCH) // timedelta(microseconds=1)}


def _elapsed_microseconds(dialect: str, last_visit_at: ColumnElement[Any]) -> ColumnElement[Any]:
    """Exact microseconds from ``last_visit_at`` to the scoring instant (integer-valued)."""
    if dialect == "postgresql":
        since = bindparam(NOW_PARAMETER, type_=_TIMESTAMP) - last_visit_at
        return extract("epoch", since) * _int(1_000_000)  # numeric: exact
    # SQLite stores UTC as 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's format).
    seconds = cast(func.strftime("%s", func.substr(last_visit_at, 1, 19)), _INTEGER)
    micros = cast(func.substr(last_visit_at, 21, 6), _INTEGER)
    now_us = bindparam(NOW_PARAMETER, type_=_INTEGER)
    return now_us - (seconds * _int(1_000_000) + micros)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def score_sql(
    columns: BookColumns,
    dialect: str,
    weights_by_team: Mapping[int, PriorityWeights] | None = None,
) -> ScoreSQL:
    """The SQL twin of :func:`score_in_book` over ``columns``.

    The scoring instant is a bound parameter: run the statement with :func:`score_params`.

    Args:
        columns: Where the facts are.
        dialect: ``"postgresql"`` or ``"sqlite"``.
        weights_by_team: Each team's weights; other teams (and no team) use the defaults.
    """
    c = columns
    days = _floor_clamped(
        dialect,
        _as_float(_elapsed_microseconds(dialect, c.last_visit_at))
        / _num(1_000_000)
        / _num(SECONDS_PER_DAY),
    )
    cadence = case((c.cadence_days > 0, c.cadence_days), else_=_int(1))
    never = c.last_visit_at.is_(None)
    overdue = case(
        (never, _num(1.0)),
        else_=_least(dialect, _as_float(days) / _as_float(cadence), _num(OVERDUE_CAP))
        / _num(OVERDUE_CAP),
    )
    pct = case(
        (c.book_size > 1, _as_float(c.below) / _as_float(c.book_size - 1)),
        (c.potential > 0, _num(1.0)),
        else_=_num(0.0),
    )
    engagement = _least(dialect, _num(1.0), _greatest(dialect, _num(0.0), c.engagement))
    opps = _as_float(
        _least(
            dialect,
            _greatest(dialect, _int(0), c.open_opportunities),
            _int(OPPORTUNITY_SATURATION),
        )
    ) / _num(OPPORTUNITY_SATURATION)

    def weighted(w: PriorityWeights) -> ColumnElement[Any]:
        # NULL, '' and unknown tiers match no key: fit 0, as in Python.
        fits = {tier: _num(value) for tier, value in w.tier_fit.items() if tier}
        fit = case(fits, value=func.upper(c.tier), else_=_num(0.0)) if fits else _num(0.0)
        return (
            _num(w.overdue) * overdue
            + _num(w.potential) * pct
            + _num(w.fit) * fit
            + _num(w.engagement) * engagement
            + _num(w.opportunities) * opps
        ) * _num(100.0 / w.total())

    groups: dict[tuple[Any, ...], tuple[PriorityWeights, list[int]]] = {}
    for team_id, w in (weights_by_team or {}).items():
        groups.setdefault(w.signature(), (w, []))[1].append(team_id)
    groups.pop(_DEFAULT_WEIGHTS.signature(), None)
    score = weighted(_DEFAULT_WEIGHTS)
    if groups:
        score = case(
            *((c.team_id.in_(teams), weighted(w)) for w, teams in groups.values()),
            else_=score,
        )
    return ScoreSQL(
        due_in_days=case((never, null()), else_=cast(cadence - days, _INTEGER)),
        score=score,
    )


def rank_sql(
    score: ColumnElement[Any], dialect: str
) -> tuple[ColumnElement[Any], ColumnElement[bool]]:
    """The list's sort key from an unrounded SQL score: the score in hundredths, rounded to the
    nearest, and whether the score sits within :data:`MIDPOINT_TOLERANCE` of a rounding midpoint
    (where Python's ``round`` may land on the other side, so the caller ranks those itself).
    """
    hundredths = score * _num(100.0)
    fraction = hundredths - _floor_clamped(dialect, hundredths)
    return (
        _floor_clamped(dialect, hundredths + _num(0.5)),
        func.abs(fraction - _num(0.5)) < _num(MIDPOINT_TOLERANCE),
    )


__all__ = [
    "MIDPOINT_TOLERANCE",
    "NOW_PARAMETER",
    "PENALTY_SECONDS_PER_POINT",
    "AccountFacts",
    "BookColumns",
    "Priority",
    "PriorityWeights",
    "ScoreSQL",
    "drop_penalty",
    "due_in_days",
    "potential_percentile",
    "rank_sql",
    "score_accounts",
    "score_in_book",
    "score_params",
    "score_sql",
]
