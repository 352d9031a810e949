"""The authenticated caller, loaded from the database for every request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Rep, Role, User


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is asking: enough to decide visibility without another query."""

    user_id: int
    role: Role
    team_id: int | None
    rep_id: int | None
    email: str

    @property
    def is_admin(self) -> bool:
        """Admins see every team."""
        return self.role is Role.ADMIN

    @property
    def is_manager(self) -> bool:
        """Managers see their own team."""
        return self.role is Role.MANAGER


async def load_viewer(
    session: AsyncSession, user_id: int, token_version: int | None = None
) -> Viewer | None:
    """The active user with ``user_id`` as a :class:`Viewer`, or None (deactivated or gone).

    With ``token_version`` (the ``ver`` claim of the caller's token), a user whose version has
    moved on since (password changed, "log out everywhere") is None too: that token is void.
    Runs on every authenticated request, so it reads the columns it needs in one row.
    """
    row = (
        await session.execute(
            select(User.role, User.team_id, User.email, User.is_active, User.token_version, Rep.id)
            .outerjoin(Rep, Rep.user_id == User.id)
            .where(User.id == user_id)
        )
    ).first()
    if row is None:
        return None
    role, team_id, email, is_active, version, rep_id = row
    if not is_active or (token_version is not None and token_version != version):
        return None
    return Viewer(user_id=user_id, role=role, team_id=team_id, rep_id=rep_id, email=email)
