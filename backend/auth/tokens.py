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
    token_version: int = 0


def issue_token(user_id: int, role: str, secret: str, ttl: timedelta, *, version: int = 0) -> str:
    """Sign a token for ``user_id``; the role is a hint, the database decides.

    ``version`` is the user's ``token_version`` now (claim ``ver``): a password change or a
    "log out everywhere" bumps it, and tokens carrying the old value are refused.
    """
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "role": role,
        "iat": now,
        "exp": now + ttl,
        "typ": "access",
        "ver": version,
    }
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
    version = claims.get("ver", 0)  # tokens signed before versions existed carry none: 0
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= 2**31:
        raise InvalidTokenError("malformed token version")
    return TokenClaims(
        user_id=user_id,
        role=str(claims.get("role", "")),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        token_version=version,
    )
