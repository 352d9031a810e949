"""JWT access tokens (HS256). API processes stay stateless: any of them can verify any token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"


class InvalidTokenError(Exception):
    """The token is missing, expired, tampered with or uses a refused algorithm."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """What a verified token says about its bearer."""

    user_id: int
    role: str
    expires_at: datetime


def issue_token(user_id: int, role: str, secret: str, ttl: timedelta) -> str:
    """Sign a token for ``user_id``; the role is a hint, the database decides."""
    now = datetime.now(UTC)
    claims = {"sub": str(user_id), "role": role, "iat": now, "exp": now + ttl, "typ": "access"}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_token(token: str, secret: str) -> TokenClaims:
    """Verify signature and expiry; only HS256 is accepted (``alg: none`` is refused)."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "iat"]}
        )
    except jwt.PyJWTError as exc:
        raise InvalidTokenError(str(exc)) from exc
    if claims.get("typ") != "access":
        raise InvalidTokenError("not an access token")
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError) as exc:
        raise InvalidTokenError("malformed subject") from exc
    return TokenClaims(
        user_id=user_id,
        role=str(claims.get("role", "")),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
    )
