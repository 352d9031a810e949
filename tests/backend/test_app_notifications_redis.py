"""Notifications across processes and through a Redis outage, at the application level.

Two app instances share one database and one private redis-server (never the shared one, which
other tests use): a rep subscribed on instance A hears a realignment committed through
instance B; with Redis down the commit still succeeds and the notice arrives, once, when Redis
is back.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from backend.app import create_app
from backend.settings import Settings
from tests.backend.test_notifications_flow import (
    _commit_today,
    _gql,
    _inbox_with,
    _login,
    _next_notice,
    _seed,
    _subscribe,
    _swap_draft,
    wait_until,
)
from tests.redis_server import RedisServer, free_port

pytestmark = [pytest.mark.redis]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def private_redis() -> Iterator[RedisServer]:
    server = RedisServer(free_port())
    server.start()
    yield server
    server.stop()


@pytest.mark.timeout(120)
def test_subscriber_on_one_process_hears_a_commit_made_on_another(
    settings: Settings, private_redis: RedisServer
) -> None:
    shared = settings.model_copy(update={"redis_url": private_redis.url})
    world = asyncio.run(_seed(shared))
    draft = _swap_draft(shared, world, world.accounts["a1"][:1], "cross-process")
    with TestClient(create_app(shared)) as process_a, TestClient(create_app(shared)) as process_b:
        rep = _login(process_a, "repa1@x.test", world.password)
        manager = _login(process_b, "managera@x.test", world.password)
        with process_a.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
            _subscribe(ws, rep, 0)
            time.sleep(0.3)  # let process A's pub/sub reader subscribe before B announces
            _commit_today(process_b, manager, draft, shared)
            notice = _next_notice(ws)
            assert [int(a["account_id"]) for a in notice["payload"]["lost"]] == world.accounts[
                "a1"
            ][:1]
        inbox = _inbox_with(process_a, rep, 1)
        assert len(inbox["items"]) == 1  # delivered once although two dispatchers consume


@pytest.mark.timeout(180)
def test_commit_succeeds_while_redis_is_down_and_the_notice_arrives_once_after(
    settings: Settings, private_redis: RedisServer
) -> None:
    shared = settings.model_copy(update={"redis_url": private_redis.url})
    world = asyncio.run(_seed(shared))
    draft = _swap_draft(shared, world, world.accounts["a1"][:2], "during outage")
    with TestClient(create_app(shared)) as client:
        rep = _login(client, "repa1@x.test", world.password)
        manager = _login(client, "managera@x.test", world.password)
        private_redis.stop()
        _commit_today(client, manager, draft, shared)
        # The API keeps serving while Redis is down ...
        accounts = _gql(client, rep, "{ myAccounts(first: 10) { totalCount } }")
        assert accounts["data"]["myAccounts"]["totalCount"] == 1
        time.sleep(1.0)
        assert (
            _gql(client, rep, "{ notifications { items { id } } }")["data"]["notifications"][
                "items"
            ]
            == []
        )
        # ... and once Redis is back, the notice is delivered exactly once.
        private_redis.start()
        inbox = _inbox_with(client, rep, 1)
        time.sleep(1.5)  # room for a duplicate to show up if the relay published twice
        inbox = _inbox_with(client, rep, 1)
        assert len(inbox["items"]) == 1
        lost = _gql(client, rep, "{ notifications { items { payload } } }")["data"][
            "notifications"
        ]["items"][0]["payload"]["lost"]
        assert sorted(int(a["account_id"]) for a in lost) == sorted(world.accounts["a1"][:2])


@pytest.mark.postgis
@pytest.mark.timeout(180)
def test_production_layout_relay_process_delivers_woken_by_the_commit(
    settings: Settings, private_redis: RedisServer, tmp_path: Path
) -> None:
    """`fieldrep relay` as its own process (the docker-compose layout): the API process only
    serves the subscription; the relay process relays, stores and announces. Its poll interval
    is set to an hour, so the notice can only arrive because the commit's NOTIFY woke it."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    shared = settings.model_copy(
        update={"redis_url": private_redis.url, "run_relay_in_process": False}
    )
    world = asyncio.run(_seed(shared))
    draft = _swap_draft(shared, world, world.accounts["a1"][:1], "relay process")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "FIELDREP_ENVIRONMENT": "test",
        "FIELDREP_DATABASE_URL": shared.database_url,
        "FIELDREP_REDIS_URL": private_redis.url,
        "FIELDREP_SECRET_KEY": shared.secret_key,
        "FIELDREP_DATA_DIR": str(tmp_path / "relay-data"),
        "FIELDREP_RELAY_POLL_SECONDS": "3600",
        "FIELDREP_WEB_PUSH": "false",
    }
    relay = subprocess.Popen(
        [sys.executable, "-m", "backend.cli.main", "relay"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert relay.stdout is not None
        for line in relay.stdout:  # wait until it runs (and has caught up once at start)
            if b"relay running" in line:
                break
        else:
            pytest.fail(f"the relay process exited with {relay.wait()}")
        with TestClient(create_app(shared)) as api:
            messaging = api.app.state.runtime.extras["messaging"]  # type: ignore[attr-defined]
            assert messaging.relay is None  # the API process neither relays ...
            assert messaging.dispatcher.handled == 0
            rep = _login(api, "repa1@x.test", world.password)
            manager = _login(api, "managera@x.test", world.password)
            with api.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
                _subscribe(ws, rep, 0)
                time.sleep(0.3)  # the hub's pub/sub reader subscribes
                _commit_today(api, manager, draft, shared)
                notice = _next_notice(ws)
                assert notice["type"] == "territory.changed.v1"
            assert messaging.dispatcher.handled == 0  # ... nor writes inboxes: the relay did
            assert len(_inbox_with(api, rep, 1)["items"]) == 1
    finally:
        relay.terminate()
        relay.wait(timeout=20)


@pytest.mark.postgis
@pytest.mark.timeout(180)
def test_one_relay_leads_and_a_stand_by_takes_over_when_it_stops(
    settings: Settings, private_redis: RedisServer
) -> None:
    """Two API processes, each with its relay in process: only the one holding the lock
    publishes (every outbox row once, not twice), and when it stops the other takes over."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("the relay lock is a PostgreSQL advisory lock")
    shared = settings.model_copy(update={"redis_url": private_redis.url})
    world = asyncio.run(_seed(shared))
    first = _swap_draft(shared, world, world.accounts["a1"][:1], "first")
    with TestClient(create_app(shared)) as process_b:
        manager = _login(process_b, "managera@x.test", world.password)
        relays = {}
        with TestClient(create_app(shared)) as process_a:
            relays = {
                name: client.app.state.runtime.extras["messaging"].relay  # type: ignore[attr-defined]
                for name, client in (("a", process_a), ("b", process_b))
            }
            wait_until(
                lambda: sum(r.is_leader() for r in relays.values()) == 1, "one relay leads", 10
            )
            time.sleep(1.5)  # a stand-by keeps trying: it must keep failing
            leaders = [name for name, r in relays.items() if r.is_leader()]
            assert len(leaders) == 1, leaders
            health = {c.get("/healthz").json()["relay"] for c in (process_a, process_b)}
            assert health == {"leading", "standing by"}
            _commit_today(process_b, manager, first, shared)
            rows = _outbox_rows(shared)
            wait_until(
                lambda: sum(r.stats.published for r in relays.values()) >= rows, "relayed", 10
            )
            time.sleep(1.0)  # room for a second publication if the stand-by relayed too
            assert sum(r.stats.published for r in relays.values()) == rows
            assert relays[leaders[0]].stats.published == rows
        # Process A has stopped. If it led, B takes over; either way B now relays a new commit.
        wait_until(relays["b"].is_leader, "process B leads once A has stopped", 10)
        second = _swap_draft(shared, world, world.accounts["a2"][:1], "second")
        before = relays["b"].stats.published
        _commit_today(process_b, manager, second, shared)
        wait_until(
            lambda: relays["b"].stats.published - before == _outbox_rows(shared) - rows,
            "B relays the second commit",
            10,
        )


def _outbox_rows(settings: Settings) -> int:
    from sqlalchemy import func, select

    from backend.db.models import OutboxEvent
    from backend.runtime import Runtime

    async def count() -> int:
        runtime = Runtime.create(settings)
        try:
            async with runtime.sessionmaker() as session:
                return int(await session.scalar(select(func.count()).select_from(OutboxEvent)) or 0)
        finally:
            await runtime.close()

    return asyncio.run(count())
