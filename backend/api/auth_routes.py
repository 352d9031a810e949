"""``POST /auth/token``: the OAuth2 password flow that issues JWT access tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy import func, select
from starlette.requests import HTTPConnection

from backend.api.request_limits import admit_login, login_succeeded
from backend.auth.passwords import PasswordCheckerBusyError
from backend.auth.tokens import issue_token
from backend.db.models import User
from backend.runtime import Runtime

router = APIRouter(tags=["auth"])


class TokenResponse(BaseModel):
    """OAuth2 token response."""

    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    role: str


def get_runtime(connection: HTTPConnection) -> Runtime:
    """The process runtime stored on the app at start-up (HTTP and WebSocket alike)."""
    runtime: Runtime = connection.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


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
    async with runtime.sessionmaker() as session:
        user = await session.scalar(
            select(User).where(func.lower(User.email) == form.username.strip().lower())
        )
    try:
        ok = await runtime.password_checker.verify(
            form.password, user.password_hash if user else None
        )
    except PasswordCheckerBusyError:
        raise HTTPException(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            detail={"code": "UNAVAILABLE", "retryable": True, "message": "busy; retry shortly"},
            headers={"Retry-After": "1"},
        ) from None
    if user is None or not ok or not user.is_active:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail={"code": "UNAUTHENTICATED", "message": "wrong e-mail or password"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    await login_succeeded(runtime, client)
    ttl = timedelta(minutes=runtime.settings.token_ttl_minutes)
    token = issue_token(user.id, user.role.value, runtime.settings.secret_key, ttl)
    return TokenResponse(
        access_token=token, expires_in=int(ttl.total_seconds()), role=user.role.value
    )
