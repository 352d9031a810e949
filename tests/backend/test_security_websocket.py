"""Live subscriptions end with the right to them; sockets are bounded (issue 13 item 7, lows).

Runs the real app with its lifespan (bus, relay) through Starlette's WebSocket test client with
the graphql-transport-ws protocol, as the PWA speaks it. On the old code a socket outlived its
token and its user (the receive never returned: the pytest timeouts are failure detectors, not
performance assertions), took any message size and 100 subscriptions, and answered a refused
document with a bare ``complete``.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from starlette.websockets import WebSocketDisconnect

from backend.app import create_app
from backend.auth.tokens import issue_token
from backend.db.models import User
from backend.runtime import Runtime
from backend.settings import Settings
from tests.conftest import World, seed_world

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBE = "subscription($after: Int!) { notifications(after: $after) { cursor type } }"
PROTOCOL = ["graphql-transport-ws"]


def _seed(settings: Settings) -> World:
    async def run() -> World:
        runtime = Runtime.create(settings)
        try:
            return await seed_world(runtime)
        finally:
            await runtime.close()

    return asyncio.run(run())


def _revoke(settings: Settings, user_id: int, how: str) -> None:
    """Deactivate the user, or bump their token version (what "log out everywhere" and a
    password change do)."""
    change: dict[str, Any] = (
        {"is_active": False} if how == "deactivated" else {"token_version": User.token_version + 1}
    )

    async def run() -> None:
        runtime = Runtime.create(settings)
        try:
            async with runtime.sessionmaker() as session, session.begin():
                await session.execute(update(User).where(User.id == user_id).values(**change))
        finally:
            await runtime.close()

    asyncio.run(run())


def _login(client: TestClient, email: str, password: str) -> str:
    response = client.post("/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _connect(ws: Any, token: str) -> None:
    ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    assert ws.receive_json()["type"] == "connection_ack"


def _subscribe(ws: Any, operation_id: str, query: str = SUBSCRIBE, **variables: Any) -> None:
    payload = {"query": query, "variables": variables or {"after": 0}}
    ws.send_json({"id": operation_id, "type": "subscribe", "payload": payload})


def _alive(ws: Any) -> None:
    """The socket still answers (a ping gets its pong)."""
    ws.send_json({"type": "ping"})
    assert ws.receive_json() == {"type": "pong"}


def _close_code(ws: Any) -> int:
    """Wait for the server to close the socket; its close code."""
    with pytest.raises(WebSocketDisconnect) as closed:
        while True:
            ws.receive_json()
    return int(closed.value.code)


@pytest.mark.timeout(30)
def test_socket_closes_when_the_token_expires(settings: Settings) -> None:
    """A token valid for 3 s: the socket works, then closes with 4401 at expiry (the re-check
    timer is left at 30 s, so only a close scheduled at ``exp`` passes this)."""
    assert settings.ws_recheck_seconds == 30
    world = _seed(settings)
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
    ):
        # Minted once the app runs (its start-up on a busy machine can outlast 2 s).
        short = issue_token(world.users["a1"], "rep", settings.secret_key, timedelta(seconds=3))
        _connect(ws, short)
        _subscribe(ws, "1")
        _alive(ws)
        assert _close_code(ws) == 4401


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["deactivated", "logged out everywhere"])
def test_socket_closes_when_the_user_loses_access(settings: Settings, how: str) -> None:
    """Deactivated (or every token revoked) mid-subscription: the next re-check closes the
    socket with 4403."""
    quick = settings.model_copy(update={"ws_recheck_seconds": 0.2})
    world = _seed(quick)
    with (
        TestClient(create_app(quick)) as client,
        client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
    ):
        _connect(ws, _login(client, "repa1@x.test", world.password))
        _subscribe(ws, "1")
        _alive(ws)
        _revoke(quick, world.users["a1"], how)
        assert _close_code(ws) == 4403


@pytest.mark.timeout(60)
def test_big_messages_close_the_socket(settings: Settings) -> None:
    """A message over ``ws_max_message_bytes`` (64 kB) closes with 1009; smaller ones pass."""
    world = _seed(settings)
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
    ):
        _connect(ws, _login(client, "repa1@x.test", world.password))
        ws.send_json({"type": "ping", "payload": {"pad": "x" * 60_000}})
        assert ws.receive_json() == {"type": "pong"}
        ws.send_json({"type": "ping", "payload": {"pad": "x" * 100_000}})
        assert _close_code(ws) == 1009


@pytest.mark.timeout(60)
def test_subscriptions_per_socket_are_capped_with_a_typed_error(settings: Settings) -> None:
    """The eleventh subscription gets an ``error`` (TOO_MANY_SUBSCRIPTIONS); the socket and the
    ten others stay; completing one makes room."""
    world = _seed(settings)
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
    ):
        _connect(ws, _login(client, "repa1@x.test", world.password))
        for n in range(settings.ws_max_subscriptions):
            _subscribe(ws, str(n))
        _alive(ws)
        _subscribe(ws, "one too many")
        refused = ws.receive_json()
        assert refused["type"] == "error" and refused["id"] == "one too many", refused
        assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
        _alive(ws)
        ws.send_json({"id": "0", "type": "complete"})
        _subscribe(ws, "room again")
        _alive(ws)  # no error this time: the pong is the next message


@pytest.mark.timeout(60)
def test_over_limit_document_on_the_socket_gets_a_typed_error(settings: Settings) -> None:
    """A subscription whose document breaks a limit is answered with ``error``, not run."""
    world = _seed(settings)
    parts = ["subscription Bomb { notifications { ...F0 } }"]
    parts += [f"fragment F{i} on Notice {{ id ...F{i + 1} ...F{i + 1} }}" for i in range(30)]
    parts.append("fragment F30 on Notice { id }")
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
    ):
        _connect(ws, _login(client, "repa1@x.test", world.password))
        _subscribe(ws, "bomb", "\n".join(parts), after=0)
        answer = ws.receive_json()
        assert answer["type"] == "error" and answer["id"] == "bomb", answer
        assert answer["payload"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
        _alive(ws)


@pytest.mark.timeout(60)
def test_production_refuses_unpublished_documents_on_the_socket_with_an_error(
    settings: Settings,
) -> None:
    """Not in graphql/operations/: ``error`` with PERSISTED_QUERY_NOT_FOUND (the old answer
    was a bare ``complete``); the published live document still runs."""
    production = settings.model_copy(
        update={"environment": "production", "secret_key": secrets.token_urlsafe(48)}
    )
    world = _seed(production)
    published = (ROOT / "graphql" / "operations" / "app_notifications.graphql").read_text()
    with (
        TestClient(create_app(production)) as client,
        client.websocket_connect("/graphql", subprotocols=PROTOCOL) as ws,
    ):
        _connect(ws, _login(client, "repa1@x.test", world.password))
        _subscribe(ws, "adhoc")
        answer = ws.receive_json()
        assert answer["type"] == "error" and answer["id"] == "adhoc", answer
        assert answer["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
        ws.send_json(
            {
                "id": "live",
                "type": "subscribe",
                "payload": {
                    "query": published,
                    "operationName": "AppLiveNotifications",
                    "variables": {"after": 0},
                },
            }
        )
        _alive(ws)  # no error for the published document: the pong comes next


@pytest.mark.timeout(60)
def test_only_graphql_transport_ws_is_spoken(settings: Settings) -> None:
    """The legacy graphql-ws protocol (no caps, no watch here) is refused with 4406."""
    _seed(settings)
    with (
        TestClient(create_app(settings)) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-ws"]) as ws,
    ):
        assert _close_code(ws) == 4406
