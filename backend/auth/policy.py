"""Who may see what, in one place: every resolver filters through these clauses.

A rep sees the accounts of their territory in the team's active alignment, a manager everything
of their team, an admin everything. Objects outside the viewer's reach are filtered in SQL, so
they answer exactly like ids that do not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, false, select, true

from backend.auth.viewer import Viewer
from backend.db.models import (
    Account,
    Alignment,
    AlignmentState,
    Rep,
    Team,
    Territory,
    TerritoryAssignment,
    User,
)


def active_territory_account_ids(rep_id: int):  # type: ignore[no-untyped-def]
    """Subquery: ids of the accounts in ``rep_id``'s territory of the active alignment."""
    return (
        select(TerritoryAssignment.account_id)
        .join(Territory, Territory.id == TerritoryAssignment.territory_id)
        .join(Alignment, Alignment.id == TerritoryAssignment.alignment_id)
        .where(Territory.rep_id == rep_id, Alignment.state == AlignmentState.ACTIVE)
    )


def accounts_visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """WHERE clause over :class:`Account` for what ``viewer`` may read."""
    if viewer.is_admin:
        return true()
    if viewer.is_manager:
        return Account.team_id == viewer.team_id if viewer.team_id is not None else false()
    if viewer.rep_id is None:
        return false()
    return and_(
        Account.team_id == viewer.team_id,
        Account.id.in_(active_territory_account_ids(viewer.rep_id)),
    )


def reps_visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """WHERE clause over :class:`Rep`: a rep sees only themself."""
    if viewer.is_admin:
        return true()
    if viewer.is_manager:
        return Rep.team_id == viewer.team_id if viewer.team_id is not None else false()
    return Rep.id == viewer.rep_id if viewer.rep_id is not None else false()


def teams_visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """WHERE clause over :class:`Team`."""
    if viewer.is_admin:
        return true()
    return Team.id == viewer.team_id if viewer.team_id is not None else false()


def users_visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """WHERE clause over :class:`User`: managers see their team's people, reps only themself."""
    if viewer.is_admin:
        return true()
    if viewer.is_manager and viewer.team_id is not None:
        return User.team_id == viewer.team_id
    return User.id == viewer.user_id


def alignments_visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """WHERE clause over :class:`Alignment`: drafts are for managers and admins only."""
    if viewer.is_admin:
        return true()
    if viewer.team_id is None:
        return false()
    if viewer.is_manager:
        return Alignment.team_id == viewer.team_id
    return and_(
        Alignment.team_id == viewer.team_id,
        Alignment.state.in_([AlignmentState.ACTIVE, AlignmentState.SCHEDULED]),
    )


def alignment_kpis_visible_to(viewer: Viewer, kpis: dict[str, Any] | None) -> dict[str, Any] | None:
    """An alignment's KPIs as ``viewer`` may read them.

    Managers and admins (who reach only their teams' alignments) get everything. A rep gets only
    the row of their own territory: the team-wide figures and the other rows are colleagues'
    potential and workload.
    """
    if kpis is None or viewer.is_admin or viewer.is_manager:
        return kpis
    rows = kpis.get("territories")
    own = str(viewer.rep_id) if viewer.rep_id is not None else None
    mine = (
        [r for r in rows if isinstance(r, dict) and str(r.get("rep_id")) == own]
        if (isinstance(rows, list) and own is not None)
        else []
    )
    return {"territories": mine}


def can_manage_team(viewer: Viewer, team_id: int) -> bool:
    """Managers change their own team; admins any team."""
    return viewer.is_admin or (viewer.is_manager and viewer.team_id == team_id)


def analytics_teams_visible_to(viewer: Viewer) -> ColumnElement[bool]:
    """WHERE clause over :class:`Team` for manager analytics: own team, all for admins.

    Reps get no team here; the API refuses them before asking (FORBIDDEN), and a manager's
    request for another team finds nothing, exactly like a missing id.
    """
    if viewer.is_admin:
        return true()
    if viewer.is_manager and viewer.team_id is not None:
        return Team.id == viewer.team_id
    return false()
