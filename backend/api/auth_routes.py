"""Sessions over HTTP: the OAuth2 password flow, token refresh, and logging out.

``POST /auth/token`` exchanges e-mail + password for a short-lived JWT access token and a
refresh token; ``POST /auth/refresh`` trades a refresh token for a new pair (rotation, see
``backend.auth.refresh``); ``POST /auth/logout`` ends this device's login and
``POST /auth/logout-everywhere`` every login of the caller.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.requests import HTTPConnection

from backend.api.request_limits import admit_login, login_succeeded
from backend.auth.passwords import PasswordCheckerBusyError
from backend.auth.refresh import (
    MAX_TOKEN_LENGTH,
    IssuedRefreshToken,
    RefreshRefusedError,
    end_all_sessions,
    family_of,
    revoke_family,
    rotate,
    start_family,
)
from backend.auth.tokens import InvalidTokenError, issue_token, verify_token
from backend.auth.viewer import load_viewer
from backend.db.models import User
from backend.runtime import Runtime

router = APIRouter(tags=["auth"])


class TokenResponse(BaseModel):
    """OAuth2 token response."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    role: str
    refresh_token: str
    refresh_expires_in: int


class RefreshRequest(BaseModel):
    """The refresh token a device holds (``/auth/refresh`` and ``/auth/logout``)."""

    refresh_token: str = Field(min_length=1, max_length=MAX_TOKEN_LENGTH)


def get_runtime(connection: HTTPConnection) -> Runtime:
    """The process runtime stored on the app at start-up (HTTP and WebSocket alike)."""
    runtime: Runtime = connection.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def _busy() -> HTTPException:
    """Every argon2 thread is busy and the line is full: retry in a second."""
    return HTTPException(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        detail={"code": "UNAVAILABLE", "retryable": True, "message": "busy; retry shortly"},
        headers={"Retry-After": "1"},
    )


@router.post("/auth/token", response_model=TokenResponse)
async def login(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    runtime: RuntimeDep,
    connection: HTTPConnection,
) -> TokenResponse:
    """Exchange e-mail + password for a bearer token (same error, same cost, for unknown users).

    Attempts are limited per client address and per address and e-mail (leaky buckets,
    ``request_limits.py``), so passwords cannot be guessed at speed; a refused attempt gets 429
    with Retry-After. argon2 runs on a bounded pool; when its line is full, 503 with
    Retry-After.
    """
    client = connection.client.host if connection.client else "unknown"
    await admit_login(runtime, client, form.username.strip().lower())
    if runtime.password_checker.full:  # refused before the database is asked anything
        raise _busy()
    async with runtime.sessionmaker() as session:
        user = await session.scalar(
            select(User).where(func.lower(User.email) == form.username.strip().lower())
        )
    try:
        ok = await runtime.password_checker.verify(
            form.password, user.password_hash if user else None
        )
    except PasswordCheckerBusyError:
        raise _busy() from None
    if user is None or not ok or not user.is_active:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail={"code": "UNAUTHENTICATED", "message": "wrong e-mail or password"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    await login_succeeded(runtime, client)
    now = datetime.now(UTC)
    async with runtime.sessionmaker() as session, session.begin():
        issued = await start_family(session, user_id=user.id, ttl=_refresh_ttl(runtime), now=now)
    return _token_pair(runtime, user, issued, now)


def _refresh_ttl(runtime: Runtime) -> timedelta:
    return timedelta(days=runtime.settings.refresh_token_ttl_days)


def _token_pair(
    runtime: Runtime, user: User, issued: IssuedRefreshToken, now: datetime
) -> TokenResponse:
    """A new access token (carrying the user's current ``token_version``) with ``issued``."""
    ttl = timedelta(minutes=runtime.settings.token_ttl_minutes)
    token = issue_token(
        user.id, user.role.value, runtime.settings.secret_key, ttl, version=user.token_version
    )
    return TokenResponse(
        access_token=token,
        expires_in=int(ttl.total_seconds()),
        role=user.role.value,
        refresh_token=issued.token,
        refresh_expires_in=int((issued.expires_at - now).total_seconds()),
    )


def _session_ended(message: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail={"code": "UNAUTHENTICATED", "message": message},
        headers={"WWW-Authenticate": "Bearer"},
    )


@router.post("/auth/refresh", response_model=TokenResponse)
async def refresh(body: RefreshRequest, runtime: RuntimeDep) -> TokenResponse:
    """Trade a refresh token for a new access token and the next refresh token.

    The presented token is spent. Presenting a spent one again revokes its whole login (the
    token was copied): 401, and every holder logs in again. A deactivated user gets 401.
    """
    now = datetime.now(UTC)
    async with runtime.sessionmaker() as session:
        try:
            user_id, issued = await rotate(session, body.refresh_token, _refresh_ttl(runtime), now)
            user = await session.get(User, user_id)
            if user is None or not user.is_active:
                await revoke_family(session, issued.family_id, now)
                raise RefreshRefusedError("the user is deactivated")
        except RefreshRefusedError as exc:
            await session.commit()  # a detected reuse revoked the family: keep that
            raise _session_ended(f"{exc}; log in again") from None
        await session.commit()
    return _token_pair(runtime, user, issued, now)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(body: RefreshRequest, runtime: RuntimeDep) -> Response:
    """End this device's login: its refresh token (and the rest of its family) stop working.

    The access token in hand still works until it expires (minutes); use
    ``/auth/logout-everywhere`` to void those too. Unknown tokens get the same 204.
    """
    now = datetime.now(UTC)
    async with runtime.sessionmaker() as session, session.begin():
        family = await family_of(session, body.refresh_token)
        if family is not None:
            await revoke_family(session, family, now)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(HTTPBearer(auto_error=False))]


@router.post("/auth/logout-everywhere", status_code=status.HTTP_204_NO_CONTENT)
async def logout_everywhere(credentials: BearerDep, runtime: RuntimeDep) -> Response:
    """End every login of the caller (a lost phone): all refresh tokens are revoked and every
    access token issued so far is refused from its next request on (``token_version``)."""
    if credentials is None:
        raise _session_ended("send 'Authorization: Bearer <token>'")
    try:
        claims = verify_token(credentials.credentials, runtime.settings.secret_key)
    except InvalidTokenError:
        raise _session_ended("invalid or expired token") from None
    async with runtime.sessionmaker() as session, session.begin():
        viewer = await load_viewer(session, claims.user_id, claims.token_version)
        if viewer is None:
            raise _session_ended("invalid or expired token")
        await end_all_sessions(session, viewer.user_id, datetime.now(UTC))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
