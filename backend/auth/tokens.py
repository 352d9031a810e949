"""JWT access tokens (HS256). API processes stay stateless: any of them can verify any token."""

from __future__ import annotations

import secrets
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
        # Two tokens issued in the same second for the same user would otherwise be the same
        # string, and a client could not tell a renewed token from the one the server refused.
        "jti": secrets.token_hex(8),
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
    user_id = _subject(claims["sub"])
    try:  # a signed but absurd expiry (year 10^20) must not crash the request
        expires_at = datetime.fromtimestamp(int(claims["exp"]), UTC)
    except (TypeError, ValueError, OverflowError, OSError) as exc:
        raise InvalidTokenError("malformed expiry") from exc
    version = claims.get("ver", 0)  # tokens signed before versions existed carry none: 0
    if not isinstance(version, int) or isinstance(version, bool) or not 0 <= version <= 2**31:
        raise InvalidTokenError("malformed token version")
    return TokenClaims(
        user_id=user_id,
        role=str(claims.get("role", "")),
        expires_at=expires_at,
        token_version=version,
    )


MAX_USER_ID = 2**31 - 1  # INTEGER primary keys on both stores


def _subject(sub: object) -> int:
    """The user id in ``sub``: decimal digits only, within the id column's range."""
    if not isinstance(sub, str) or not sub.isascii() or not sub.isdigit() or len(sub) > 10:
        raise InvalidTokenError("malformed subject")
    user_id = int(sub)
    if not 0 < user_id <= MAX_USER_ID:
        raise InvalidTokenError("malformed subject")
    return user_id
