"""Authentication: tokens, refused tokens, deactivated users, uniform login failures."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import jwt
from sqlalchemy import update

from backend.auth.tokens import issue_token
from backend.db.models import User
from backend.runtime import Runtime
from tests.conftest import Api, World

ME = "{ me { id email role } }"


async def test_login_returns_a_token_that_works(api: Api, world: World) -> None:
    response = await api.login("repa1@x.test", world.password)
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    body = await api.gql(ME)
    assert body["data"] == {
        "me": {"id": str(world.users["a1"]), "email": "repa1@x.test", "role": "REP"}
    }


async def test_wrong_password_and_unknown_user_get_the_same_answer(api: Api, world: World) -> None:
    wrong = await api.login("repa1@x.test", "nope")
    unknown = await api.login("nobody@x.test", "nope")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_anonymous_graphql_is_unauthenticated(api: Api, world: World) -> None:
    body = await api.gql(ME)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"  # type: ignore[index]


def _forge(claims: dict[str, object], alg: str) -> str:
    def b64(obj: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    return f"{b64({'alg': alg, 'typ': 'JWT'})}.{b64(claims)}."


async def test_expired_tampered_and_alg_none_tokens_are_refused(
    api: Api, world: World, runtime: Runtime
) -> None:
    secret = runtime.settings.secret_key
    expired = issue_token(world.users["a1"], "rep", secret, timedelta(seconds=-5))
    good = issue_token(world.users["a1"], "rep", secret, timedelta(minutes=5))
    header, payload, signature = good.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["sub"] = str(world.users["admin"])
    tampered = ".".join(
        [
            header,
            base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("="),
            signature,
        ]
    )
    none_alg = _forge(
        {"sub": str(world.users["admin"]), "exp": 9999999999, "iat": 1, "typ": "access"}, "none"
    )
    other_key = jwt.encode(
        {"sub": str(world.users["admin"]), "exp": 9999999999, "iat": 1, "typ": "access"},
        "other-secret-" + "y" * 32,
        algorithm="HS256",
    )
    for token in (expired, tampered, none_alg, other_key):
        api.token = token
        body = await api.gql(ME)
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", token  # type: ignore[index]
    api.token = good
    assert "errors" not in await api.gql(ME)


async def test_deactivated_user_is_refused_even_with_a_valid_token(
    api: Api, world: World, runtime: Runtime
) -> None:
    await api.login("repa1@x.test", world.password)
    async with runtime.sessionmaker() as session, session.begin():
        await session.execute(
            update(User).where(User.id == world.users["a1"]).values(is_active=False)
        )
    body = await api.gql(ME)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"  # type: ignore[index]
    response = await api.login("repa1@x.test", world.password)
    assert response.status_code == 401
