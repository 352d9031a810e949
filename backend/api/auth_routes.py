"""``POST /auth/token``: the OAuth2 password flow that issues JWT access tokens."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel
from sqlalchemy import func, select
from starlette.requests import HTTPConnection

from backend.auth.passwords import verify_password
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

    Attempts are limited per client address and e-mail (leaky bucket), so passwords cannot be
    guessed at speed; a refused attempt gets 429 with Retry-After.
    """
    client = connection.client.host if connection.client else "unknown"
    allowed, _remaining, retry = await runtime.login_bucket.take(
        f"{client}:{form.username.strip().lower()}", 1.0
    )
    if not allowed:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail={"code": "RATE_LIMITED", "message": "too many login attempts; wait and retry"},
            headers={"Retry-After": str(max(1, round(retry)))},
        )
    async with runtime.sessionmaker() as session:
        user = await session.scalar(
            select(User).where(func.lower(User.email) == form.username.strip().lower())
        )
    # argon2 takes ~100-250 ms of CPU: off the event loop, so other requests keep flowing.
    ok = await asyncio.to_thread(
        verify_password, form.password, user.password_hash if user else None
    )
    if user is None or not ok or not user.is_active:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail={"code": "UNAUTHENTICATED", "message": "wrong e-mail or password"},
            headers={"WWW-Authenticate": "Bearer"},
        )
    ttl = timedelta(minutes=runtime.settings.token_ttl_minutes)
    token = issue_token(user.id, user.role.value, runtime.settings.secret_key, ttl)
    return TokenResponse(
        access_token=token, expires_in=int(ttl.total_seconds()), role=user.role.value
    )
