"""Territory change -> outbox -> relay -> inbox -> live WebSocket subscription, through the app.

Runs the real ASGI app with its lifespan (in-process bus, relay and scheduler) on both
backends; the rep listens with the graphql-transport-ws protocol like the PWA does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from backend.app import create_app
from backend.db.models import AlignmentState
from backend.runtime import Runtime
from backend.services.alignments import store_alignment
from backend.services.timeutil import local_today
from backend.settings import Settings
from tests.conftest import World, seed_world

SUBSCRIBE = "subscription($after: Int!) { notifications(after: $after) { cursor type payload } }"
COMMIT = "mutation($id: ID!, $d: Date!) { commitAlignment(id: $id, effectiveDate: $d) { state } }"


def _login(client: TestClient, email: str, password: str) -> str:
    response = client.post("/auth/token", data={"username": email, "password": password})
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _gql(client: TestClient, token: str, query: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _swap_draft(settings: Settings, world: World, moved: list[int], name: str) -> int:
    """A draft for team A where ``moved`` accounts go from rep a1 to rep a2."""

    async def run() -> int:
        runtime = Runtime.create(settings)
        try:
            async with runtime.sessionmaker() as session, session.begin():
                rep_of = dict.fromkeys(world.accounts["a1"], world.reps["a1"])
                rep_of |= dict.fromkeys(world.accounts["a2"], world.reps["a2"])
                rep_of |= dict.fromkeys(moved, world.reps["a2"])
                draft = await store_alignment(
                    session,
                    team_id=world.teams["A"],
                    name=name,
                    rep_of_account=rep_of,
                    state=AlignmentState.DRAFT,
                )
                return draft.id
        finally:
            await runtime.close()

    return asyncio.run(run())


def _inbox_with(client: TestClient, token: str, count: int) -> dict[str, Any]:
    """The inbox once ``count`` notices arrived (delivery is asynchronous; bounded wait)."""
    query = "{ notifications(after: 0) { items { id cursor type acknowledgedAt } unread } }"
    for _ in range(100):
        inbox: dict[str, Any] = _gql(client, token, query)["data"]["notifications"]
        if len(inbox["items"]) >= count:
            return inbox
        time.sleep(0.1)
    return inbox


def _commit_today(client: TestClient, token: str, draft: int, settings: Settings) -> None:
    """Commit ``draft`` effective today where the deployment is (not in UTC) and check that
    it became the active alignment."""
    today = local_today(settings.timezone).isoformat()
    committed = _gql(client, token, COMMIT, id=str(draft), d=today)
    assert committed["data"]["commitAlignment"]["state"] == "ACTIVE", committed


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    """Poll ``condition`` until true; fail naming ``what`` after ``seconds`` (a safety net for
    work other threads or processes do, not a timing assertion)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds} s: {what}")
        time.sleep(0.05)


def _next_notice(ws: Any) -> dict[str, Any]:
    message = ws.receive_json()
    assert message["type"] == "next", message
    notice: dict[str, Any] = message["payload"]["data"]["notifications"]
    return notice


def _subscribe(ws: Any, token: str, after: int) -> None:
    ws.send_json({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
    assert ws.receive_json()["type"] == "connection_ack"
    ws.send_json(
        {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIBE, "variables": {"after": after}},
        }
    )


@pytest.mark.timeout(120)
def test_rep_hears_realignment_live_resumes_by_cursor_and_acknowledges(settings: Settings) -> None:
    world = asyncio.run(_seed(settings))
    first = _swap_draft(settings, world, world.accounts["a1"][:1], "move one")
    with TestClient(create_app(settings)) as client:
        rep = _login(client, "repa1@x.test", world.password)
        other_rep = _login(client, "repb1@x.test", world.password)
        manager = _login(client, "managera@x.test", world.password)
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            _subscribe(ws, rep, 0)
            today = local_today(settings.timezone).isoformat()
            committed = _gql(client, manager, COMMIT, id=str(first), d=today)
            assert committed["data"]["commitAlignment"]["state"] == "ACTIVE", committed
            notice = _next_notice(ws)
            assert notice["type"] == "territory.changed.v1"
            assert [int(a["account_id"]) for a in notice["payload"]["lost"]] == world.accounts[
                "a1"
            ][:1]
            assert notice["payload"]["gained"] == []
            seen_cursor = notice["cursor"]
        # Offline while the next change happens ...
        second = _swap_draft(settings, world, world.accounts["a1"][:2], "move two")
        assert (
            _gql(client, manager, COMMIT, id=str(second), d=today)["data"]["commitAlignment"][
                "state"
            ]
            == "ACTIVE"
        )
        inbox = _inbox_with(client, rep, 2)
        assert next(i["cursor"] for i in inbox["items"]) == seen_cursor
        assert len(inbox["items"]) == 2 and inbox["unread"] == 2
        # ... and back: resuming from the last cursor replays exactly what was missed.
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            _subscribe(ws, rep, seen_cursor)
            missed = _next_notice(ws)
            assert missed["cursor"] == inbox["items"][1]["cursor"]
            assert [int(a["account_id"]) for a in missed["payload"]["lost"]] == world.accounts[
                "a1"
            ][1:2]
        # Reps of other teams hear nothing; the acknowledgement reaches the manager.
        assert (
            _gql(client, other_rep, "{ notifications { items { id } } }")["data"]["notifications"][
                "items"
            ]
            == []
        )
        ack = _gql(
            client,
            rep,
            "mutation($id: ID!) { acknowledgeTerritoryChange(id: $id) { acknowledgedAt } }",
            id=inbox["items"][1]["id"],
        )
        assert ack["data"]["acknowledgeTerritoryChange"]["acknowledgedAt"]
        acks = _gql(
            client,
            manager,
            "query($a: ID!) { territoryAcknowledgements(alignmentId: $a) { repId acknowledgedAt } }",
            a=str(second),
        )
        rows = acks["data"]["territoryAcknowledgements"]
        assert len(rows) == 2, "rep a1's notice of the first alignment belongs to that one"
        assert {r["repId"]: bool(r["acknowledgedAt"]) for r in rows} == {
            str(world.reps["a1"]): True,
            str(world.reps["a2"]): False,
        }


@pytest.mark.timeout(60)
def test_websocket_without_a_valid_token_is_refused(settings: Settings) -> None:
    asyncio.run(_seed(settings))
    with TestClient(create_app(settings)) as client:
        with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            ws.send_json(
                {"type": "connection_init", "payload": {"authorization": "Bearer not-a-token"}}
            )
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_json()
        assert closed.value.code == 4403


async def _seed(settings: Settings) -> World:
    runtime = Runtime.create(settings)
    try:
        return await seed_world(runtime)
    finally:
        await runtime.close()
