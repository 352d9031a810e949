"""Faults: PostgreSQL restarted under load, and a worker killed in the middle of a job.

PostgreSQL runs as a PRIVATE cluster (``initdb`` in a temporary folder, a free port), never the
shared server. The app runs in-process on an ASGI transport; the runtime (engine, pool) is the
same before, during and after the outage, so recovery needs no restart of fieldrep.
Redis outages are covered by ``test_app_notifications_redis.py``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import select

from backend.app import create_app
from backend.auth.tokens import issue_token
from backend.db import models
from backend.db.migrate import upgrade_to_head
from backend.jobs.runner import STALE_AFTER
from backend.runtime import Runtime
from backend.settings import Settings
from tests.conftest import seed_world
from tests.redis_server import free_port

PG_BIN = Path(os.environ.get("FIELDREP_PG_BIN", "/usr/lib/postgresql/15/bin"))
ROOT = Path(__file__).resolve().parents[2]


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on a free loopback port (as user postgres when root)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:  # initdb refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.folder / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"no PostgreSQL binaries in {PG_BIN}")
    # Not under pytest's tmp folder: as root, the cluster runs as postgres, who cannot enter it.
    server = PrivatePostgres(Path(tempfile.mkdtemp(prefix="fieldrep-pg-")))
    server.init()
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # the test may have stopped it
            server.stop("immediate")
        shutil.rmtree(server.folder, ignore_errors=True)


async def _create_database(server: PrivatePostgres, name: str) -> str:
    conn = await asyncpg.connect(server.url("postgres", driver="postgresql"))
    try:
        await conn.execute(f"CREATE DATABASE {name}")
    finally:
        await conn.close()
    url = server.url(name)
    await asyncio.to_thread(upgrade_to_head, url)
    return url


def _settings(url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test",
        database_url=url,
        data_dir=tmp_path / "data",
        secret_key="test-secret-" + "x" * 32,
        # This load loops over logins and queries from one address on purpose.
        login_attempts_per_5min=10_000,
        login_attempts_per_address_per_5min=0,
        address_requests_per_minute=0,
        routing_cache_dir=tmp_path / "rc",
    )


# ---- PostgreSQL restarted under load --------------------------------------------------------

ACCOUNTS = "{ myAccounts(first: 10) { totalCount edges { node { id } } } }"
ME = "{ me { id } }"


def classify(kind: str, response: httpx.Response) -> str:
    """'ok', 'unavailable' (the retryable answer) or a description of anything else."""
    if response.status_code == 503:
        body = response.json()
        if body.get("code") == "UNAVAILABLE" and body.get("retryable") is True:
            return "unavailable"
        return f"{kind}: 503 without the UNAVAILABLE body: {response.text[:200]}"
    if kind == "graphql":
        if response.status_code != 200:
            return f"graphql: HTTP {response.status_code}: {response.text[:200]}"
        errors = response.json().get("errors") or []
        if not errors:
            return "ok"
        if all(
            (e.get("extensions") or {}).get("code") == "UNAVAILABLE"
            and (e.get("extensions") or {}).get("retryable") is True
            for e in errors
        ):
            return "unavailable"
        return f"graphql: {errors}"
    if response.status_code == 200:
        return "ok"
    return f"{kind}: HTTP {response.status_code}: {response.text[:200]}"


class Load:
    """A few clients looping over GraphQL queries, the health check and logins."""

    def __init__(self, client: httpx.AsyncClient, token: str, email: str, password: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.login_form = {"username": email, "password": password}
        self.seen: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.others: list[str] = []
        self.phase = "before"

    async def one(self, n: int) -> str:
        choice = n % 5
        if choice in (0, 1):
            query = ACCOUNTS if choice == 0 else ME
            response = await self.client.post(
                "/graphql", json={"query": query}, headers=self.headers
            )
            outcome = classify("graphql", response)
        elif choice in (2, 3):
            outcome = classify("rest", await self.client.get("/healthz"))
        else:
            outcome = classify("rest", await self.client.post("/auth/token", data=self.login_form))
        self.seen[self.phase][outcome if outcome in ("ok", "unavailable") else "other"] += 1
        if outcome not in ("ok", "unavailable"):
            self.others.append(f"[{self.phase}] {outcome}")
        return outcome

    async def worker(self, stop: asyncio.Event, offset: int) -> None:
        n = offset
        while not stop.is_set():
            await self.one(n)
            n += 1
            await asyncio.sleep(0.01)


@dataclass
class RestartRun:
    """What the clients saw around a PostgreSQL crash and restart."""

    load: Load
    recovered: bool
    after: list[str]


async def restart_under_load(server: PrivatePostgres, tmp_path: Path) -> RestartRun:
    """Load the app, crash PostgreSQL (immediate stop), keep asking while it is down, start it
    again and ask until the first success (bounded), then 25 more requests."""
    url = await _create_database(server, "fieldrep_fault")
    settings = _settings(url, tmp_path)
    runtime = Runtime.create(settings)
    world = await seed_world(runtime)
    token = issue_token(world.users["a1"], "rep", settings.secret_key, dt.timedelta(hours=1))
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # a 500 is data here
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            load = Load(client, token, "repa1@x.test", world.password)
            for n in range(10):
                assert await load.one(n) == "ok"
            stop = asyncio.Event()
            workers = [asyncio.create_task(load.worker(stop, k)) for k in range(4)]
            await asyncio.sleep(0.3)
            load.phase = "restart"
            await asyncio.to_thread(server.stop, "immediate")  # a crash: connections are cut
            load.phase = "down"
            for n in range(25):  # while it is down: every kind of request, serially too
                await load.one(n)
            await asyncio.to_thread(server.start)
            load.phase = "recovering"
            recovered = False
            for n in range(200):  # bounded: until the first success after the restart
                if await load.one(n) == "ok":
                    recovered = True
                    break
                await asyncio.sleep(0.05)
            load.phase = "after"
            stop.set()
            await asyncio.gather(*workers)
            after = [await load.one(n) for n in range(25)]
    finally:
        await runtime.close()
    print("outcomes by phase:", {phase: dict(c) for phase, c in load.seen.items()})
    print("other answers:", collections.Counter(o[:160] for o in load.others).most_common())
    return RestartRun(load, recovered, after)


@pytest.mark.postgis
@pytest.mark.timeout(120)
async def test_postgres_restart_then_the_same_app_recovers(
    private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    """Once PostgreSQL is back, the same app (same engine and pool) answers again: no restart."""
    run = await restart_under_load(private_pg, tmp_path)
    assert run.recovered
    assert run.after == ["ok"] * 25


@pytest.mark.postgis
@pytest.mark.timeout(120)
async def test_postgres_outage_answers_only_retryable_unavailable(
    private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    """Every request while PostgreSQL is down gets GraphQL UNAVAILABLE (retryable) or REST 503
    with the UNAVAILABLE body, never a 500 or an uncoded error."""
    run = await restart_under_load(private_pg, tmp_path)
    assert run.load.others == [], "\n".join(run.load.others)
    # The 25 serial requests of the down phase at least (the 4 background clients add more).
    assert run.load.seen["down"]["unavailable"] >= 25, run.load.seen["down"]


# ---- a worker killed in the middle of a job -------------------------------------------------

_WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    from backend.runtime import Runtime
    from backend.settings import Settings

    async def main() -> None:
        settings = Settings(environment="test", database_url=sys.argv[1],
                            data_dir=Path(sys.argv[2]), secret_key="test-secret-" + "x" * 32)
        runtime = Runtime.create(settings)

        async def body(progress):
            progress("working on it", 0.25)
            await asyncio.sleep(3600)  # a long job body; the test kills us long before
            return {}

        job = await runtime.jobs.submit("long_test_job", {"n": 1}, None, body)
        while True:
            await asyncio.sleep(0.05)
            async with runtime.sessionmaker() as session:
                state = await session.scalar(
                    __import__("sqlalchemy").text("SELECT message FROM jobs WHERE id = :i"),
                    {"i": job.id},
                )
            if state == "working on it":
                print(job.id, flush=True)
                await asyncio.sleep(3600)

    asyncio.run(main())
    """
)


@pytest.mark.timeout(120)
async def test_worker_killed_mid_job_is_marked_failed_never_stuck(
    db_url: str, tmp_path: Path
) -> None:
    """A process that dies with a job running leaves it 'running'; once its heartbeat is older
    than STALE_AFTER, any other process's ``recover_interrupted`` marks it failed. A fresh,
    live job of another process is not touched."""
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(script),
        db_url,
        str(tmp_path / "data"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        job_id = line.decode().strip()
        assert job_id, "the worker printed no job id"
    finally:
        proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(proc.wait(), 10)
    assert proc.returncode == -signal.SIGKILL

    runtime = Runtime.create(
        Settings(
            environment="test",
            database_url=db_url,
            data_dir=tmp_path / "data2",
            secret_key="s" * 40,
        )
    )
    try:
        async with runtime.sessionmaker() as session:
            job = await session.get(models.Job, job_id)
            assert job is not None
            assert (job.state, job.message) == ("running", "working on it")
            heartbeat = job.updated_at
        # Right now the heartbeat is fresh: the job might be alive elsewhere, so it is left alone.
        assert await runtime.jobs.recover_interrupted(now=dt.datetime.now(dt.UTC)) == 0
        later = (
            heartbeat.replace(tzinfo=heartbeat.tzinfo or dt.UTC)
            + STALE_AFTER
            + dt.timedelta(seconds=1)
        )
        async with runtime.sessionmaker() as session, session.begin():
            live = models.Job(
                kind="live_elsewhere", state="running", params={}, updated_at=later
            )  # a heartbeat as of "later": alive
            session.add(live)
        assert await runtime.jobs.recover_interrupted(now=later) == 1
        async with runtime.sessionmaker() as session:
            rows = {
                j.kind: (j.state, j.message)
                for j in (await session.scalars(select(models.Job))).all()
            }
    finally:
        await runtime.close()
    assert rows["long_test_job"] == (
        "failed",
        "interrupted (its process stopped); start it again",
    )
    assert rows["live_elsewhere"][0] == "running"


__all__: list[Any] = []


# ---- The relay's leadership survives a PostgreSQL restart -----------------------------------


@pytest.mark.postgis
@pytest.mark.timeout(180)
def test_relay_leads_again_after_postgres_restarts_and_delivers(
    private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    """The relay publishes only while its connection holds the lock. PostgreSQL crashing kills
    that connection; once the server is back the relay must lead again by itself, so a commit
    made after the restart still reaches the rep's inbox."""
    from fastapi.testclient import TestClient

    from tests.backend.test_notifications_flow import (
        _commit_today,
        _inbox_with,
        _login,
        _swap_draft,
        wait_until,
    )

    url = asyncio.run(_create_database(private_pg, "fieldrep_relay_fault"))
    settings = _settings(url, tmp_path)

    async def seed() -> Any:
        runtime = Runtime.create(settings)
        try:
            return await seed_world(runtime)
        finally:
            await runtime.close()

    world = asyncio.run(seed())
    draft = _swap_draft(settings, world, world.accounts["a1"][:1], "after restart")
    with TestClient(create_app(settings)) as client:
        relay = client.app.state.runtime.extras["messaging"].relay  # type: ignore[attr-defined]
        wait_until(relay.is_leader, "the relay leads")
        private_pg.stop("immediate")
        wait_until(lambda: not relay.is_leader(), "the relay notices it lost the lock")
        private_pg.start()
        wait_until(relay.is_leader, "the relay leads again after the restart")
        rep = _login(client, "repa1@x.test", world.password)
        manager = _login(client, "managera@x.test", world.password)
        _commit_today(client, manager, draft, settings)
        assert len(_inbox_with(client, rep, 1)["items"]) == 1
