"""Commit-to-notice latency at N live WebSocket subscribers, with Redis (issue 7).

Starts a real server (`fieldrep serve`, PostGIS + a private redis-server on loopback), seeds one
team of N reps with one account each, connects N graphql-transport-ws subscriptions (one per
rep), then commits an alignment that hands every rep's account to the next rep, effective
today. Every rep must hear about it. Latency per subscriber = arrival of its notice minus the
moment the commit request was sent (so the activation transaction itself is included).

    python bench/bench_notify_ws.py [--reps 1000] [--out bench/results/notify_ws.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import asyncpg
import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.auth.tokens import issue_token
from backend.db.migrate import upgrade_to_head
from backend.db.models import Account, AlignmentState, Rep, Role, Team, User
from backend.runtime import Runtime
from backend.services.alignments import store_alignment
from backend.services.timeutil import local_today
from backend.settings import Settings
from tests.redis_server import RedisServer, free_port

PG = "postgresql://postgres@127.0.0.1:5432"
SECRET = "bench-secret-" + "z" * 32
SUBSCRIBE = "subscription { notifications(after: 0) { cursor type } }"


async def seed(url: str, reps: int) -> tuple[int, list[int]]:
    settings = Settings(database_url=url, secret_key=SECRET)
    runtime = Runtime.create(settings)
    async with runtime.sessionmaker() as session, session.begin():
        team = Team(name="Bench")
        session.add(team)
        await session.flush()
        users = [
            User(
                email=f"r{i}@b",
                full_name=f"R{i}",
                password_hash="x",
                role=Role.REP,
                team_id=team.id,
            )
            for i in range(reps)
        ]
        session.add_all(users)
        await session.flush()
        rep_rows = [
            Rep(user_id=u.id, team_id=team.id, home_lat=47.14, home_lon=9.52, home=(47.14, 9.52))
            for u in users
        ]
        session.add_all(rep_rows)
        accounts = [
            Account(
                external_id=f"a{i}",
                team_id=team.id,
                name=f"A{i}",
                lat=47.14,
                lon=9.52,
                location=(47.14, 9.52),
            )
            for i in range(reps)
        ]
        session.add_all(accounts)
        await session.flush()
        await store_alignment(
            session,
            team_id=team.id,
            name="v1",
            rep_of_account={a.id: r.id for a, r in zip(accounts, rep_rows, strict=True)},
            state=AlignmentState.ACTIVE,
        )
        rotated = {a.id: rep_rows[(i + 1) % reps].id for i, a in enumerate(accounts)}
        draft = await store_alignment(
            session,
            team_id=team.id,
            name="rotate",
            rep_of_account=rotated,
            state=AlignmentState.DRAFT,
        )
        manager = User(
            email="m@b", full_name="M", password_hash="x", role=Role.MANAGER, team_id=team.id
        )
        session.add(manager)
        await session.flush()
        ids = [u.id for u in users] + [manager.id]
        draft_id = draft.id
    await runtime.close()
    return draft_id, ids


async def subscriber(
    port: int,
    token: str,
    ready: asyncio.Event,
    counter: list[int],
    n: int,
    arrivals: list[float],
    done: asyncio.Event,
) -> None:
    async with websockets.connect(
        f"ws://127.0.0.1:{port}/graphql",
        subprotocols=["graphql-transport-ws"],
        max_queue=None,
        open_timeout=120,
        ping_interval=None,
    ) as ws:
        await ws.send(
            json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}})
        )
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}}))
        counter[0] += 1
        if counter[0] == n:
            ready.set()
        while True:
            message = json.loads(await ws.recv())
            if message["type"] == "next":
                arrivals.append(time.perf_counter())
                if len(arrivals) == n:
                    done.set()
                # Stay connected like a phone would: closing 1,000 sockets while the others'
                # notices are still on their way would load the server during the measurement.
                await done.wait()
                return


def server_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by the server and its worker processes: the work
    per notice, which unlike wall time does not depend on what else the machine runs."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


async def wait_until_live(client: httpx.AsyncClient, reps: int, workers: int) -> float:
    """Wait until every worker reports its subscriptions past their initial inbox replay, so
    the commit is timed on a settled server rather than behind 1,000 replay queries."""
    began = time.perf_counter()
    live: dict[int, int] = {}
    while time.perf_counter() - began < 120:
        # A new connection each time, so that every worker gets asked sooner or later.
        health = (await client.get("/healthz", headers={"Connection": "close"})).json()
        live[health["process"]] = health.get("liveSubscriptions", 0)
        if len(live) >= workers and sum(live.values()) >= reps:
            return time.perf_counter() - began
        await asyncio.sleep(0.02)
    raise RuntimeError(f"only {sum(live.values())} of {reps} subscriptions went live: {live}")


def server_today() -> dt.date:
    """Today where the server is (effective dates are local: after 23:00 UTC it is already
    tomorrow in Vaduz, and "today" in UTC is in the past there)."""
    return local_today(Settings.model_fields["timezone"].default)


async def wait_for_delivery_group(url: str) -> None:
    """Wait until the separate relay process has joined the Stream's consumer group."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        for _ in range(600):
            try:
                if await client.xinfo_groups("fieldrep:events"):
                    return
            except aioredis.ResponseError:
                pass  # no stream yet
            await asyncio.sleep(0.05)
        raise RuntimeError("the relay process never joined the consumer group")
    finally:
        await client.aclose()


async def stages(name: str, start_wall: float) -> dict[str, float]:
    """Server-side milestones from the database clocks (same machine), in ms after the commit
    request was sent: last outbox row relayed to Redis, last inbox row stored."""
    conn = await asyncpg.connect(f"{PG}/{name}")
    try:
        relayed = await conn.fetchval("SELECT extract(epoch FROM max(published_at)) FROM outbox")
        stored = await conn.fetchval(
            "SELECT extract(epoch FROM max(created_at)) FROM notifications"
        )
    finally:
        await conn.close()
    return {
        "relayed": (float(relayed) - start_wall) * 1000,
        "stored": (float(stored) - start_wall) * 1000,
    }


async def run(reps: int, workers: int, relay_process: bool) -> dict[str, float]:
    name = f"fieldrep_bench_ws_{os.getpid()}"
    admin = await asyncpg.connect(f"{PG}/postgres")
    await admin.execute(f"DROP DATABASE IF EXISTS {name}")
    await admin.execute(f"CREATE DATABASE {name}")
    url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    await asyncio.to_thread(upgrade_to_head, url)
    draft, users = await seed(url, reps)
    redis = RedisServer(free_port())
    redis.start()
    port = free_port()
    env = {
        **os.environ,
        "FIELDREP_DATABASE_URL": url,
        "FIELDREP_REDIS_URL": redis.url,
        "FIELDREP_SECRET_KEY": SECRET,
        "FIELDREP_QUERY_COST_PER_MINUTE": "1000000000",
    }
    if relay_process:  # the production layout: `fieldrep relay` delivers, API processes fan out
        env["FIELDREP_RUN_RELAY_IN_PROCESS"] = "false"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "backend.cli.main",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    relay = (
        subprocess.Popen(
            [sys.executable, "-m", "backend.cli.main", "relay"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if relay_process
        else None
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            for _ in range(200):
                try:
                    if (await client.get("/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            tokens = [issue_token(u, "rep", SECRET, dt.timedelta(hours=1)) for u in users[:-1]]
            manager = issue_token(users[-1], "manager", SECRET, dt.timedelta(hours=1))
            ready, counter, arrivals, done = asyncio.Event(), [0], [], asyncio.Event()
            tasks = []
            for token in tokens:
                tasks.append(
                    asyncio.create_task(
                        subscriber(port, token, ready, counter, reps, arrivals, done)
                    )
                )
                if len(tasks) % 50 == 0:  # connect in waves, each subscribed before the next
                    while counter[0] < len(tasks):
                        await asyncio.sleep(0.05)
            await asyncio.wait_for(ready.wait(), 120)
            settle_s = await wait_until_live(client, reps, workers)
            if relay is not None:
                await wait_for_delivery_group(redis.url)
            mutation = "mutation($id: ID!, $d: Date!) { commitAlignment(id: $id, effectiveDate: $d) { state } }"
            timeline: list[tuple[float, int, int, int]] = []

            async def poll() -> None:
                conn = await asyncpg.connect(f"{PG}/{name}")
                try:
                    while True:
                        published = await conn.fetchval(
                            "SELECT count(*) FROM outbox WHERE published_at IS NOT NULL"
                        )
                        stored = await conn.fetchval("SELECT count(*) FROM notifications")
                        timeline.append(
                            (time.perf_counter() - start, published, stored, len(arrivals))
                        )
                        await asyncio.sleep(0.25)
                finally:
                    await conn.close()

            spy = None
            if os.environ.get("BENCH_PYSPY"):
                spy = subprocess.Popen(
                    [
                        "py-spy",
                        "record",
                        "-o",
                        os.environ["BENCH_PYSPY"],
                        "-f",
                        "raw",
                        "-d",
                        "8",
                        "-r",
                        "200",
                        "-p",
                        str(server.pid),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                await asyncio.sleep(1.0)
            server_pids = [server.pid] + ([relay.pid] if relay is not None else [])
            cpu_before = sum(server_cpu_seconds(p) for p in server_pids)
            start_wall, start = time.time(), time.perf_counter()
            poller = asyncio.create_task(poll()) if os.environ.get("BENCH_TIMELINE") else None
            response = await client.post(
                "/graphql",
                json={
                    "query": mutation,
                    "variables": {"id": str(draft), "d": server_today().isoformat()},
                },
                headers={"Authorization": f"Bearer {manager}"},
            )
            commit_s = time.perf_counter() - start
            assert response.json()["data"]["commitAlignment"]["state"] == "ACTIVE", response.text
            await asyncio.wait_for(done.wait(), 120)
            cpu_used = sum(server_cpu_seconds(p) for p in server_pids) - cpu_before
            await asyncio.wait_for(asyncio.gather(*tasks), 120)
            if spy is not None:
                spy.wait(timeout=30)
            if poller is not None:
                poller.cancel()
                for t, published, stored, arrived in timeline[::2]:
                    print(
                        f"t={t:5.2f}s outbox published={published} inbox={stored} arrived={arrived}"
                    )
            milestones = await stages(name, start_wall)
    finally:
        for process in (server, relay):
            if process is not None:
                process.terminate()
                process.wait(timeout=20)
        redis.stop()
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
    latencies = sorted((a - start) * 1000 for a in arrivals)
    return {
        "n": len(latencies),
        "commit_ms": commit_s * 1000,
        "settle_s": settle_s,
        **milestones,
        "first": latencies[0],
        "cpu_ms": cpu_used * 1000,
        "p50": statistics.median(latencies),
        "p95": latencies[int(0.95 * (len(latencies) - 1))],
        "max": latencies[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--relay-process",
        action="store_true",
        help="run `fieldrep relay` as its own process (production layout)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/notify_ws.md"))
    args = parser.parse_args()
    results = [
        asyncio.run(run(args.reps, args.workers, args.relay_process)) for _ in range(args.repeats)
    ]
    for r in results:
        print(r)
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    lines = [
        "## Realignment notice to live WebSocket subscribers (issue 7)",
        "",
        f"Machine: {cpu}, 2 cores. Command: `python bench/bench_notify_ws.py --reps {args.reps} --workers {args.workers} --repeats {args.repeats}{' --relay-process' if args.relay_process else ''}`."
        + (
            " Production layout: `fieldrep relay` in its own process relays, writes the inboxes and announces; the API process only serves the subscriptions."
            if args.relay_process
            else " Default layout: relay and dispatcher inside the API process."
        ),
        "Real server (`fieldrep serve`) on PostGIS with a private redis-server on loopback; one team of",
        f"{args.reps} reps, one graphql-transport-ws subscription each; one commit hands every rep's account to",
        "the next rep (effective today), so every subscriber gets exactly one notice. Latency = notice",
        "arrival minus the moment the commit request was sent (activation transaction included). The",
        "subscribers run in the same 2-core machine as the server. The commit is sent once every",
        "worker reports all its subscriptions live (past their initial inbox replay, `/healthz`).",
        "Stages: *commit* = the commit request's response; *relayed* = the last outbox row marked",
        "published (in Redis); *stored* = the last inbox transaction began (database clock);",
        "*server CPU* = CPU time the server processes used from the commit to the last notice.",
        "",
        "| run | notices | commit | relayed | stored | first notice | p50 | p95 | max | server CPU |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, r in enumerate(results, 1):
        lines.append(
            f"| {i} | {r['n']} | {r['commit_ms']:.0f} ms | {r['relayed']:.0f} ms | {r['stored']:.0f} ms"
            f" | {r['first']:.0f} ms | {r['p50']:.0f} ms | {r['p95']:.0f} ms | {r['max']:.0f} ms"
            f" | {r['cpu_ms']:.0f} ms |"
        )
    p95s = [r["p95"] for r in results]
    lines += [
        "",
        f"Median p95 over runs: **{statistics.median(p95s):.0f} ms** (target: under 250 ms).",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
