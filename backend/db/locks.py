"""Row locks that serialize one team's writers, on PostgreSQL and SQLite alike.

Activating an alignment reads "the team's active version" and then replaces it. Two requests
doing that at once each read the same version, so they must take turns: the second must read
after the first has committed. PostgreSQL gets ``SELECT ... FOR UPDATE`` on the team's row (the
next statement of a READ COMMITTED transaction then sees what the first writer committed);
SQLite has no row locks, so the caller takes the database write lock at once with a no-op
write on the team, before its reads rather than at its first real write.
"""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Team


async def lock_team(session: AsyncSession, team_id: int) -> None:
    """Hold the team's lock until the end of the session's transaction.

    Args:
        session: The unit of work that will read and replace the team's active alignment.
        team_id: The team whose writers take turns.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(Team.id).where(Team.id == team_id).with_for_update())
    else:
        await session.execute(
            update(Team)
            .where(Team.id == team_id)
            .values(name=Team.name)  # touches no key: no foreign-key work
            .execution_options(synchronize_session=False)
        )


__all__ = ["lock_team"]
