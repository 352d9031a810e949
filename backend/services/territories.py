"""Territory versions: propose (design or realign), compare, hand edits, commit, activation.

The optimizer lives in :mod:`routing.territories`; this module feeds it from the database,
stores what it returns as a draft alignment, and turns an activation into outbox events (one
``TerritoryChanged`` per rep whose accounts changed) in the same transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.locks import lock_team
from backend.db.models import (
    Account,
    Alignment,
    AlignmentState,
    Rep,
    Territory,
    TerritoryAssignment,
    User,
)
from backend.services.alignments import assignment_of, store_alignment
from backend.services.outbox import record_events
from notifications import AccountHandover, TerritoryChanged

if TYPE_CHECKING:
    from routing.network import RoadNetwork
    from routing.territories import Assignment, TerritoryAccount, TerritoryKpis, TerritoryRep

#: Concave hulls hug road-following territories; convex ones overlap across the mountains
#: (hull overlap 0.31 -> 0.13 on the Liechtenstein demo).
OUTLINE_CONCAVITY = 0.5
#: Minutes of driving attributed to one visit when sizing territories (half a typical leg).
DRIVE_SHARE_MINUTES = 15.0


class TerritoryServiceError(Exception):
    """A request the territory service refuses; ``field`` names the input at fault."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str = "BAD_USER_INPUT",
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.details = details or {}


@dataclass(frozen=True, slots=True)
class ProposalParams:
    """What a manager asks for."""

    mode: Literal["design", "realign"] = "realign"
    name: str = "What-if"
    tolerance: float = 0.05
    potential_tolerance: float = 0.10
    max_moved_share: float = 0.10
    max_moved_per_rep: int | None = None
    straight_line: bool = False

    def validate(self) -> None:
        """Refuse values the optimizer cannot honour."""
        if not 0.005 <= self.tolerance <= 0.5:
            raise TerritoryServiceError("tolerance must be 0.005..0.5", field="params.tolerance")
        if not 0.005 <= self.potential_tolerance <= 1.0:
            raise TerritoryServiceError(
                "potentialTolerance must be 0.005..1", field="params.potentialTolerance"
            )
        if not 0.0 <= self.max_moved_share <= 1.0:
            raise TerritoryServiceError("maxMovedShare must be 0..1", field="params.maxMovedShare")
        if self.max_moved_per_rep is not None and self.max_moved_per_rep < 0:
            raise TerritoryServiceError("maxMovedPerRep must be ≥ 0", field="params.maxMovedPerRep")


@dataclass
class TeamBook:
    """A team's accounts and reps as the optimizer sees them."""

    accounts: list[Account]
    reps: list[Rep]
    names: dict[int, str]
    t_accounts: list[TerritoryAccount]
    t_reps: list[TerritoryRep]


def account_workload_hours(account: Account) -> float:
    """Yearly hours an account takes: visits by cadence x (visit + its share of driving)."""
    from routing.territories import workload_hours

    return workload_hours(
        365.0 / max(account.visit_cadence_days, 1),
        float(account.visit_duration_min),
        DRIVE_SHARE_MINUTES,
    )


async def load_team_book(session: AsyncSession, team_id: int) -> TeamBook:
    """Active reps and all accounts of ``team_id`` in optimizer form."""
    from routing.territories import TerritoryAccount, TerritoryRep, account_move_cost

    accounts = list(
        (
            await session.execute(
                select(Account).where(Account.team_id == team_id).order_by(Account.id)
            )
        ).scalars()
    )
    rows = (
        await session.execute(
            select(Rep, User.full_name)
            .join(User, User.id == Rep.user_id)
            .where(Rep.team_id == team_id, Rep.active.is_(True), User.is_active.is_(True))
            .order_by(Rep.id)
        )
    ).all()
    reps = [rep for rep, _ in rows]
    names = {rep.id: name for rep, name in rows}
    t_accounts = [
        TerritoryAccount(
            id=str(a.id),
            lat=a.lat,
            lon=a.lon,
            workload_hours=account_workload_hours(a),
            potential=a.potential,
            move_cost=account_move_cost(open_pipeline=a.open_opportunities > 0),
            visits_per_year=365.0 / max(a.visit_cadence_days, 1),
        )
        for a in accounts
    ]
    t_reps = [TerritoryRep(id=str(r.id), lat=r.home_lat, lon=r.home_lon) for r in reps]
    return TeamBook(accounts, reps, names, t_accounts, t_reps)


async def active_alignment(session: AsyncSession, team_id: int) -> Alignment | None:
    """The team's active alignment."""
    return await session.scalar(
        select(Alignment).where(
            Alignment.team_id == team_id, Alignment.state == AlignmentState.ACTIVE
        )
    )


def _oracle(net: RoadNetwork | None) -> Any:
    from routing.territories import RoadNetworkOracle, StraightLineOracle

    return StraightLineOracle() if net is None else RoadNetworkOracle(net)


def kpis_json(kpis: TerritoryKpis | None) -> dict[str, Any] | None:
    """KPIs as stored on the alignment (JSON)."""
    return asdict(kpis) if kpis is not None else None


def _optimize(
    book: TeamBook,
    current: Mapping[str, str],
    params: ProposalParams,
    net: RoadNetwork | None,
    progress: Any,
) -> Assignment:
    """CPU-bound: run design or realignment (in a worker thread)."""
    from routing.territories import (
        DesignParams,
        RealignParams,
        TerritoryError,
        design_territories,
        realign_territories,
    )

    oracle = _oracle(net)
    try:
        if params.mode == "design" or not current:
            return design_territories(
                book.t_accounts,
                book.t_reps,
                oracle,
                DesignParams(
                    tolerance=params.tolerance, potential_tolerance=params.potential_tolerance
                ),
                progress=progress,
            )
        return realign_territories(
            book.t_accounts,
            book.t_reps,
            current,
            oracle,
            RealignParams(
                tolerance=params.tolerance,
                potential_tolerance=params.potential_tolerance,
                max_moved_share=params.max_moved_share,
                max_moved_per_rep=params.max_moved_per_rep,
            ),
            progress=progress,
        )
    except TerritoryError as exc:
        details = {
            key: value
            for key, value in vars(exc).items()
            if isinstance(value, (str, int, float)) and not key.startswith("_")
        }
        raise TerritoryServiceError(
            str(exc), field="params", code="INFEASIBLE", details=details
        ) from exc


async def propose_alignment(
    session: AsyncSession,
    net: RoadNetwork | None,
    team_id: int,
    params: ProposalParams,
    *,
    created_by_id: int | None = None,
    progress: Any = None,
) -> Alignment:
    """Optimize and store the result as a draft (what-if) alignment with KPIs and outlines."""
    from routing.territories import territory_polygons

    params.validate()
    book = await load_team_book(session, team_id)
    if not book.reps:
        raise TerritoryServiceError("the team has no active reps", field="teamId")
    if len(book.accounts) < len(book.reps):
        raise TerritoryServiceError(
            f"{len(book.accounts)} accounts cannot fill {len(book.reps)} territories",
            field="teamId",
        )
    active = await active_alignment(session, team_id)
    current = (
        {str(a): str(r) for a, r in (await assignment_of(session, active.id)).items()}
        if active is not None
        else {}
    )
    result = await asyncio.to_thread(_optimize, book, current, params, net, progress)
    outlines = territory_polygons(book.t_accounts, result.rep_of, concave_ratio=OUTLINE_CONCAVITY)
    kpis = kpis_json(result.kpis) or {}
    kpis["notes"] = list(result.notes)
    kpis["potential_ok"] = result.potential_ok
    return await store_alignment(
        session,
        team_id=team_id,
        name=params.name,
        rep_of_account={int(a): int(r) for a, r in result.rep_of.items()},
        state=AlignmentState.DRAFT,
        parent_id=active.id if active is not None else None,
        created_by_id=created_by_id,
        outlines={int(rep): poly.wkt for rep, poly in outlines.items()},
        kpis=kpis,
    )


@dataclass(frozen=True, slots=True)
class Move:
    """An account that changes rep between two alignments."""

    account_id: int
    account_name: str
    from_rep_id: int | None
    to_rep_id: int | None


async def diff_alignments(session: AsyncSession, before_id: int, after_id: int) -> list[Move]:
    """Accounts whose rep differs between two versions (added/removed accounts included)."""
    before = await assignment_of(session, before_id)
    after = await assignment_of(session, after_id)
    changed = sorted(a for a in set(before) | set(after) if before.get(a) != after.get(a))
    names = dict(
        (
            await session.execute(select(Account.id, Account.name).where(Account.id.in_(changed)))
        ).all()
    )
    return [Move(a, names.get(a, f"account {a}"), before.get(a), after.get(a)) for a in changed]


async def alignment_kpis(
    session: AsyncSession, alignment: Alignment, net: RoadNetwork | None
) -> dict[str, Any]:
    """Stored KPIs, or computed now for versions stored without them (e.g. hand-made)."""
    from routing.territories import compute_kpis

    if alignment.kpis and "workload_max_deviation" in alignment.kpis:
        return dict(alignment.kpis)
    book = await load_team_book(session, alignment.team_id)
    rep_of = {str(a): str(r) for a, r in (await assignment_of(session, alignment.id)).items()}
    known = set(rep_of)
    accounts = [a for a in book.t_accounts if a.id in known]
    kpis = await asyncio.to_thread(compute_kpis, accounts, book.t_reps, rep_of, _oracle(net))
    return kpis_json(kpis) or {}


def _not_a_draft(alignment: Alignment) -> TerritoryServiceError:
    return TerritoryServiceError(
        f"alignment {alignment.id} is {alignment.state.value}; only drafts can be committed",
        field="id",
        code="CONFLICT",
    )


async def commit_alignment(
    session: AsyncSession, alignment: Alignment, effective_date: dt.date, today: dt.date
) -> Alignment:
    """Schedule a draft for ``effective_date``; activate at once when that day has come.

    The draft is claimed with a conditional UPDATE (``WHERE state = 'DRAFT'``) under the team's
    lock, so of two concurrent commits of one draft exactly one wins; the other gets CONFLICT
    and records nothing (its transaction is rolled back by the caller).
    """
    if alignment.state is not AlignmentState.DRAFT:
        raise _not_a_draft(alignment)
    if effective_date < today:
        raise TerritoryServiceError(
            f"effective date {effective_date} is in the past", field="effectiveDate"
        )
    await lock_team(session, alignment.team_id)
    claimed = await session.execute(
        update(Alignment)
        .where(Alignment.id == alignment.id, Alignment.state == AlignmentState.DRAFT)
        .values(state=AlignmentState.SCHEDULED, effective_date=effective_date)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(alignment)
    if _rowcount(claimed) != 1:
        raise _not_a_draft(alignment)
    if effective_date <= today:
        await activate_alignment(session, alignment)
    return alignment


def _rowcount(result: object) -> int:
    """Rows an UPDATE matched (``Result`` of a DML statement is a ``CursorResult``)."""
    return int(getattr(result, "rowcount", 0))


async def activate_alignment(session: AsyncSession, alignment: Alignment) -> list[str]:
    """Make a scheduled ``alignment`` active, archive the previous one, record the events.

    Runs under the team's lock and re-reads both versions after taking it: a commit and the
    activation job (or two commits) each see what the other committed, so every change is
    announced once, against the version it really replaces. The partial unique index
    ``uq_alignments_one_active_per_team`` is the last word: a second active version is refused
    by the database (CONFLICT), whatever path wrote it.
    """
    await lock_team(session, alignment.team_id)
    await session.refresh(alignment)
    if alignment.state is not AlignmentState.SCHEDULED:
        raise TerritoryServiceError(
            f"alignment {alignment.id} is {alignment.state.value}; it was activated meanwhile",
            field="id",
            code="CONFLICT",
        )
    previous = await session.scalar(
        select(Alignment)
        .where(Alignment.team_id == alignment.team_id, Alignment.state == AlignmentState.ACTIVE)
        .execution_options(populate_existing=True)
    )
    try:
        async with session.begin_nested():
            if previous is not None:
                previous.state = AlignmentState.ARCHIVED
                await session.flush()
            alignment.state = AlignmentState.ACTIVE
            await session.flush()
    except IntegrityError as exc:
        raise TerritoryServiceError(
            f"team {alignment.team_id} got another active alignment meanwhile; reload and retry",
            field="id",
            code="CONFLICT",
        ) from exc
    if previous is None:
        return []
    return await _record_territory_changes(session, previous, alignment)


def _moves_with_notes(before_id: int, after_id: int) -> Select[Any]:
    """Accounts whose rep differs between two versions, with name and handover note, in one
    statement: activation runs inside the manager's commit request, and at a thousand reps the
    separate reads (before, after, names, notes) were a fifth of it."""

    def side(alignment_id: int, name: str) -> Any:
        return (
            select(
                TerritoryAssignment.account_id,
                Territory.rep_id,
                TerritoryAssignment.handover_note,
            )
            .join(Territory, Territory.id == TerritoryAssignment.territory_id)
            .where(TerritoryAssignment.alignment_id == alignment_id)
            .subquery(name)
        )

    before, after = side(before_id, "before"), side(after_id, "after")
    account_id = func.coalesce(after.c.account_id, before.c.account_id)
    return (
        select(account_id, Account.name, before.c.rep_id, after.c.rep_id, after.c.handover_note)
        .select_from(after.join(before, after.c.account_id == before.c.account_id, full=True))
        .outerjoin(Account, Account.id == account_id)
        .where(before.c.rep_id.is_distinct_from(after.c.rep_id))
        .order_by(account_id)
    )


async def _record_territory_changes(
    session: AsyncSession, previous: Alignment, current: Alignment
) -> list[str]:
    gained: dict[int, list[AccountHandover]] = defaultdict(list)
    lost: dict[int, list[AccountHandover]] = defaultdict(list)
    for account_id, name, from_rep, to_rep, note in await session.execute(
        _moves_with_notes(previous.id, current.id)
    ):
        handover = AccountHandover(str(account_id), name or f"account {account_id}", note or "")
        if to_rep is not None:
            gained[to_rep].append(handover)
        if from_rep is not None:
            lost[from_rep].append(handover)
    reps = set(gained) | set(lost)
    if not reps:
        return []
    users: dict[int, int] = {}
    territories: dict[int, int | None] = {}
    for rep_id, user_id, territory_id in await session.execute(
        select(Rep.id, Rep.user_id, Territory.id)
        .outerjoin(
            Territory, and_(Territory.rep_id == Rep.id, Territory.alignment_id == current.id)
        )
        .where(Rep.id.in_(reps))
    ):
        users[rep_id] = user_id
        territories[rep_id] = territory_id
    events = []
    effective = current.effective_date or dt.datetime.now(dt.UTC).date()
    for rep_id in sorted(reps):
        change = TerritoryChanged(
            rep_id=str(rep_id),
            territory_id=str(territories.get(rep_id) or ""),
            effective_date=effective,
            gained=tuple(gained[rep_id]),
            lost=tuple(lost[rep_id]),
            alignment_version_id=str(current.id),
        )
        events.append(change.to_event(recipients=[str(users[rep_id])]))
    await record_events(session, events)
    return [event.id for event in events]


async def activate_due_alignments(session: AsyncSession, today: dt.date) -> list[int]:
    """Activate every scheduled alignment whose effective date has come (oldest first)."""
    due = (
        (
            await session.execute(
                select(Alignment)
                .where(
                    Alignment.state == AlignmentState.SCHEDULED, Alignment.effective_date <= today
                )
                .order_by(Alignment.effective_date, Alignment.id)
                .with_for_update(skip_locked=True)  # several API processes run this loop
            )
        )
        .scalars()
        .all()
    )
    for alignment in due:
        await activate_alignment(session, alignment)
    return [a.id for a in due]


async def reassign_accounts(
    session: AsyncSession,
    alignment: Alignment,
    moves: Sequence[tuple[int, int]],
    *,
    note: str | None,
    tolerance: float,
    allow_imbalance: bool,
) -> Alignment:
    """Hand edits on a draft: move accounts to reps, then check the workload balance."""
    if alignment.state is not AlignmentState.DRAFT:
        raise TerritoryServiceError(
            "only draft alignments can be edited; propose a new version",
            field="alignmentId",
            code="CONFLICT",
        )
    territory_of_rep = dict(
        (
            await session.execute(
                select(Territory.rep_id, Territory.id).where(Territory.alignment_id == alignment.id)
            )
        ).all()
    )
    assignments = {
        row.account_id: row
        for row in (
            await session.execute(
                select(TerritoryAssignment).where(TerritoryAssignment.alignment_id == alignment.id)
            )
        ).scalars()
    }
    for index, (account_id, rep_id) in enumerate(moves):
        if rep_id not in territory_of_rep:
            raise TerritoryServiceError(
                f"rep {rep_id} has no territory in this alignment",
                field=f"moves[{index}].repId",
                code="NOT_FOUND",
            )
        row = assignments.get(account_id)
        if row is None:
            raise TerritoryServiceError(
                f"account {account_id} is not in this alignment",
                field=f"moves[{index}].accountId",
                code="NOT_FOUND",
            )
        row.territory_id = territory_of_rep[rep_id]
        row.handover_note = note
    await session.flush()
    book = await load_team_book(session, alignment.team_id)
    load: dict[int, float] = defaultdict(float)
    workload = {int(a.id): a.workload_hours for a in book.t_accounts}
    rep_of = await assignment_of(session, alignment.id)
    for account_id, rep_id in rep_of.items():
        load[rep_id] += workload.get(account_id, 0.0)
    mean = sum(load.values()) / max(len(territory_of_rep), 1)
    worst = max(
        ((rep, abs(load.get(rep, 0.0) / mean - 1)) for rep in territory_of_rep if rep),
        key=lambda pair: pair[1],
        default=(None, 0.0),
    )
    if not allow_imbalance and mean > 0 and worst[1] > tolerance:
        raise TerritoryServiceError(
            f"territory of rep {worst[0]} would be {worst[1]:.1%} off the mean workload "
            f"(tolerance {tolerance:.0%}); pass allowImbalance to keep it anyway",
            field="moves",
            code="INFEASIBLE",
            details={"repId": worst[0], "deviation": round(worst[1], 4)},
        )
    kpis = dict(alignment.kpis or {})
    kpis.pop("workload_max_deviation", None)  # recomputed on demand (see alignment_kpis)
    alignment.kpis = kpis
    await session.flush()
    return alignment
