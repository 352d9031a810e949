"""Refresh tokens: long-lived, single-use, stored as digests, revocable per device or user.

Why: access tokens are short-lived (``FIELDREP_TOKEN_TTL_MINUTES``, 15 by default), so a
stolen one is worth minutes; the phone keeps working by trading its refresh token for a new
pair. Each refresh token is an opaque random string (256 bits); the database keeps only its
SHA-256 digest, so a copy of the table gives nobody a session.

Every login starts a *family* (one device's session). A refresh marks the presented token
used and issues the next one of the family (rotation). A used token presented again means
two holders have it (the phone and a thief, whichever came second): the whole family is
revoked, and both must log in again. Logging out revokes the family; "log out everywhere"
revokes every family of the user and bumps ``users.token_version``, which voids the user's
access tokens at their next request (see ``backend.auth.viewer``).

Example:
    >>> issued = await start_family(session, user_id=7, ttl=timedelta(days=30), now=now)
    >>> user_id, following = await rotate(session, issued.token, ttl, now)
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import RefreshToken, User
from backend.services.timeutil import as_utc

#: Characters of the longest refresh token this module issues (``token_urlsafe(32)`` is 43).
MAX_TOKEN_LENGTH = 128


class RefreshRefusedError(Exception):
    """The refresh token is unknown, expired, revoked, or was used before (``reused``)."""

    def __init__(self, message: str, *, reused: bool = False) -> None:
        super().__init__(message)
        self.reused = reused


@dataclass(frozen=True, slots=True)
class IssuedRefreshToken:
    """A refresh token as handed to the client once (only its digest is stored)."""

    token: str
    family_id: str
    expires_at: datetime


def digest(token: str) -> str:
    """The stored form of a refresh token: hex SHA-256 (the token has 256 random bits, so a
    slow hash adds nothing)."""
    return hashlib.sha256(token.encode()).hexdigest()


async def _issue(
    session: AsyncSession, user_id: int, family_id: str, ttl: timedelta, now: datetime
) -> IssuedRefreshToken:
    token = secrets.token_urlsafe(32)
    expires_at = now + ttl
    session.add(
        RefreshToken(
            user_id=user_id,
            family_id=family_id,
            token_hash=digest(token),
            created_at=now,
            expires_at=expires_at,
        )
    )
    await session.flush()
    return IssuedRefreshToken(token=token, family_id=family_id, expires_at=expires_at)


async def start_family(
    session: AsyncSession, *, user_id: int, ttl: timedelta, now: datetime
) -> IssuedRefreshToken:
    """The first refresh token of a new login (a new family)."""
    return await _issue(session, user_id, str(uuid.uuid4()), ttl, now)


async def rotate(
    session: AsyncSession, token: str, ttl: timedelta, now: datetime
) -> tuple[int, IssuedRefreshToken]:
    """Spend ``token`` and issue the next one of its family.

    The spend is a conditional UPDATE (``WHERE used_at IS NULL``): of two refreshes with one
    token, concurrent or not, exactly one succeeds and the other is treated as reuse.

    Returns:
        The user id and the new refresh token.

    Raises:
        RefreshRefusedError: unknown, expired or revoked; ``reused`` when the token had been
            spent, in which case its family has been revoked in ``session`` and the caller
            must commit that before answering.
    """
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise RefreshRefusedError("malformed refresh token")
    row = await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == digest(token)))
    if row is None:
        raise RefreshRefusedError("unknown refresh token")
    if row.revoked_at is not None:
        raise RefreshRefusedError("refresh token revoked")
    if as_utc(row.expires_at) <= now:
        raise RefreshRefusedError("refresh token expired")
    spent = await session.execute(
        update(RefreshToken)
        .where(
            RefreshToken.id == row.id,
            RefreshToken.used_at.is_(None),
            RefreshToken.revoked_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(spent, "rowcount", 0)) != 1:
        await revoke_family(session, row.family_id, now)
        raise RefreshRefusedError(
            "refresh token was already used: this login is revoked on every device that had it",
            reused=True,
        )
    return row.user_id, await _issue(session, row.user_id, row.family_id, ttl, now)


async def family_of(session: AsyncSession, token: str) -> str | None:
    """The family of a refresh token (used or not), or None when unknown."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    family: str | None = await session.scalar(
        select(RefreshToken.family_id).where(RefreshToken.token_hash == digest(token))
    )
    return family


async def revoke_family(session: AsyncSession, family_id: str, now: datetime) -> None:
    """End one device's login: none of its refresh tokens works any more."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


async def end_all_sessions(session: AsyncSession, user_id: int, now: datetime) -> None:
    """Log out everywhere (a stolen phone, a password change): revoke every refresh token
    of the user and bump ``token_version``, so every access token issued so far is refused at
    its next use (HTTP request or WebSocket re-check)."""
    await session.execute(
        update(RefreshToken)
        .where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.execute(
        update(User)
        .where(User.id == user_id)
        .values(token_version=User.token_version + 1)
        .execution_options(synchronize_session=False)
    )


__all__ = [
    "MAX_TOKEN_LENGTH",
    "IssuedRefreshToken",
    "RefreshRefusedError",
    "digest",
    "end_all_sessions",
    "family_of",
    "revoke_family",
    "rotate",
    "start_family",
]
