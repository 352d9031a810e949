"""Creating teams, users and rep profiles (CLI, demo and tests share this one path)."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.auth.passwords import hash_password
from backend.auth.refresh import end_all_sessions
from backend.db.models import Rep, Role, Team, User


async def get_or_create_team(
    session: AsyncSession, name: str, timezone: str = "Europe/Vaduz"
) -> Team:
    """The team called ``name``, created when missing."""
    team = await session.scalar(select(Team).where(Team.name == name))
    if team is None:
        team = Team(name=name, timezone=timezone)
        session.add(team)
        await session.flush()
    return team


async def create_user(
    session: AsyncSession,
    *,
    email: str,
    password: str,
    full_name: str,
    role: Role,
    team: Team | None = None,
    password_hash: str | None = None,
) -> User:
    """A new active user with an argon2 password hash (pass ``password_hash`` to reuse one)."""
    user = User(
        email=email.strip().lower(),
        full_name=full_name,
        password_hash=password_hash or hash_password(password),
        role=role,
        team_id=team.id if team else None,
        is_active=True,
    )
    session.add(user)
    await session.flush()
    return user


async def create_rep(
    session: AsyncSession,
    *,
    user: User,
    team: Team,
    home: tuple[float, float] | None,
    work_start: time = time(8, 0),
    work_end: time = time(17, 0),
    skills: list[str] | None = None,
) -> Rep:
    """The rep profile of ``user`` with a home base (where the day starts and ends)."""
    rep = Rep(
        user_id=user.id,
        team_id=team.id,
        home_lat=home[0] if home else None,
        home_lon=home[1] if home else None,
        home=home,
        work_start=work_start,
        work_end=work_end,
        skills=skills or [],
    )
    session.add(rep)
    await session.flush()
    return rep


async def change_password(
    session: AsyncSession, user_id: int, new_password: str, now: datetime
) -> None:
    """Set a new password and end every session of the user (refresh tokens revoked, access
    tokens voided through ``token_version``): whoever knew the old password is out at once."""
    await session.execute(
        update(User).where(User.id == user_id).values(password_hash=hash_password(new_password))
    )
    await end_all_sessions(session, user_id, now)
