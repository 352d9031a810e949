"""Alignment versions: storing an assignment of accounts to reps as a new version."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.locks import lock_team
from backend.db.models import (
    Alignment,
    AlignmentState,
    Rep,
    Territory,
    TerritoryAssignment,
    User,
)


async def store_alignment(
    session: AsyncSession,
    *,
    team_id: int,
    name: str,
    rep_of_account: Mapping[int, int],
    state: AlignmentState = AlignmentState.DRAFT,
    effective_date: date | None = None,
    parent_id: int | None = None,
    created_by_id: int | None = None,
    outlines: Mapping[int, str] | None = None,
    kpis: dict[str, object] | None = None,
) -> Alignment:
    """Write a new alignment version with one territory per rep of the team.

    Activating archives the previously active version of the team in the same transaction,
    under the team's lock, so a team never has two active alignments (the partial unique index
    ``uq_alignments_one_active_per_team`` refuses a second one whatever the path).
    """
    if state is AlignmentState.ACTIVE:
        await lock_team(session, team_id)
        await session.execute(
            update(Alignment)
            .where(Alignment.team_id == team_id, Alignment.state == AlignmentState.ACTIVE)
            .values(state=AlignmentState.ARCHIVED)
        )
    alignment = Alignment(
        team_id=team_id,
        name=name,
        state=state,
        effective_date=effective_date,
        parent_id=parent_id,
        created_by_id=created_by_id,
        kpis=kpis,
    )
    session.add(alignment)
    await session.flush()
    reps = (
        await session.execute(
            select(Rep.id, User.full_name)
            .join(User, User.id == Rep.user_id)
            .where(Rep.team_id == team_id)
            .order_by(Rep.id)
        )
    ).all()
    territory_of_rep: dict[int, int] = {}
    for rep_id, full_name in reps:
        territory = Territory(
            alignment_id=alignment.id,
            rep_id=rep_id,
            name=f"{full_name}'s territory",
            outline=(outlines or {}).get(rep_id),
        )
        session.add(territory)
        await session.flush()
        territory_of_rep[rep_id] = territory.id
    unknown = {r for r in rep_of_account.values() if r not in territory_of_rep}
    if unknown:
        msg = f"reps {sorted(unknown)} are not in team {team_id}"
        raise ValueError(msg)
    session.add_all(
        TerritoryAssignment(
            alignment_id=alignment.id, account_id=account_id, territory_id=territory_of_rep[rep_id]
        )
        for account_id, rep_id in rep_of_account.items()
    )
    await session.flush()
    return alignment


async def assignment_of(session: AsyncSession, alignment_id: int) -> dict[int, int]:
    """account id -> rep id of an alignment version."""
    rows = await session.execute(
        select(TerritoryAssignment.account_id, Territory.rep_id)
        .join(Territory, Territory.id == TerritoryAssignment.territory_id)
        .where(TerritoryAssignment.alignment_id == alignment_id)
    )
    return {account_id: rep_id for account_id, rep_id in rows if rep_id is not None}
