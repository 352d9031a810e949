"""Load test on loopback: 200 reps doing their morning against 2 API processes (PostGIS + Redis).

Sets up everything it needs and removes it afterwards:

- a throwaway PostGIS database on the local server (created, migrated, dropped);
- a private redis-server on a free port (never the shared one);
- 200 reps in 10 teams, home bases and 20 accounts each on real road-network nodes of
  Liechtenstein, an active alignment per team, and every rep's day planned once before the
  timed run ("plans cached"; the quick solver effort, since plan quality is not measured here);
- ``fieldrep serve --workers 2`` with ``FIELDREP_DATABASE_URL`` / ``FIELDREP_REDIS_URL``.

Timed, in two phases so the figures stay readable:

1. login: every rep logs in once (``POST /auth/token``), ``--login-concurrency`` at a time;
2. morning: reps start at random within ``--ramp`` seconds, each ``--rounds`` times:
   ``myDay`` (stored plan), ``myAccounts`` first page (by priority) and ``checkIn`` at the first
   stop of the day (unique clientId), with a random think time between steps.

Latencies are measured at the client (httpx, same machine). An error is any non-200 answer or a
GraphQL answer with errors.

    python bench/bench_load.py [--reps 200] [--rounds 3] [--out bench/results/load.md]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from backend.auth.passwords import hash_password  # noqa: E402
from backend.db.migrate import upgrade_to_head  # noqa: E402
from backend.db.models import Account, AlignmentState, Role  # noqa: E402
from backend.runtime import Runtime  # noqa: E402
from backend.services.alignments import store_alignment  # noqa: E402
from backend.services.dayplan import PlanOptions, plan_day  # noqa: E402
from backend.services.people import create_rep, create_user, get_or_create_team  # noqa: E402
from backend.settings import Settings, bundled_region_path  # noqa: E402
from bench.machine import cpu_model  # noqa: E402
from tests.redis_server import RedisServer, free_port  # noqa: E402

PASSWORD = "load-test-password"
PG_ADMIN = os.environ.get(
    "FIELDREP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
MY_DAY = """query($d: Date!) { myDay(date: $d) { repId version
  stops { accountId name lat lon arrival } totals { stops driveSeconds windshieldRatio } } }"""
MY_ACCOUNTS = """{ myAccounts(first: 20, orderBy: PRIORITY) { totalCount
  edges { node { id name tier priority { score reasons } } } pageInfo { endCursor } } }"""
CHECK_IN = """mutation($i: CheckInInput!) { checkIn(input: $i) { id clientId flaggedFar } }"""


@dataclass
class Stats:
    """Client-side latencies (seconds) and errors per operation."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    samples: dict[str, str] = field(default_factory=dict)
    wall: dict[str, float] = field(default_factory=dict)
    worker_cpu: dict[int, float] = field(default_factory=dict)

    def record(self, op: str, seconds: float, error: str | None) -> None:
        self.latencies[op].append(seconds)
        if error:
            self.errors[op] += 1
            self.samples.setdefault(op, error[:300])


def _pg_url(database: str, driver: str = "postgresql") -> str:
    return f"{PG_ADMIN.rsplit('/', 1)[0]}/{database}".replace("postgresql://", f"{driver}://")


async def _pg(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def seed(
    settings: Settings, reps: int, accounts_per_rep: int, day: dt.date
) -> dict[str, float]:
    """Teams of 20 reps on road nodes, accounts on road nodes, plans for ``day``."""
    runtime = Runtime.create(settings)
    timings: dict[str, float] = {}
    try:
        net = await runtime.road_network()
        rng = random.Random(7)
        password_hash = hash_password(PASSWORD)
        started = time.perf_counter()
        rep_ids: list[int] = []
        for team_no in range(max(1, (reps + 19) // 20)):
            async with runtime.sessionmaker() as session, session.begin():
                team = await get_or_create_team(session, f"Load team {team_no}")
                rep_of: dict[int, int] = {}
                for n in range(min(20, reps - team_no * 20)):
                    key = f"{team_no:02d}-{n:02d}"
                    user = await create_user(
                        session,
                        email=f"rep{key}@load.test",
                        password=PASSWORD,
                        password_hash=password_hash,
                        full_name=f"Rep {key}",
                        role=Role.REP,
                        team=team,
                    )
                    home = rng.randrange(net.node_count)
                    rep = await create_rep(
                        session,
                        user=user,
                        team=team,
                        home=(float(net.node_lat[home]), float(net.node_lon[home])),
                    )
                    rep_ids.append(rep.id)
                    for i in range(accounts_per_rep):
                        node = rng.randrange(net.node_count)
                        lat, lon = float(net.node_lat[node]), float(net.node_lon[node])
                        account = Account(
                            external_id=f"{key}-{i}",
                            team_id=team.id,
                            name=f"Account {key}-{i}",
                            lat=lat,
                            lon=lon,
                            location=(lat, lon),
                            tier=rng.choice("ABCD"),
                            potential=rng.uniform(1e3, 1e5),
                            visit_duration_min=30,
                            last_visit_at=dt.datetime.now(dt.UTC)
                            - dt.timedelta(days=rng.randrange(90)),
                        )
                        session.add(account)
                        await session.flush()
                        rep_of[account.id] = rep.id
                await store_alignment(
                    session,
                    team_id=team.id,
                    name=f"Load {team_no}",
                    rep_of_account=rep_of,
                    state=AlignmentState.ACTIVE,
                )
        timings["seed_s"] = time.perf_counter() - started
        started = time.perf_counter()
        for rep_id in rep_ids:
            async with runtime.sessionmaker() as session:
                await plan_day(
                    session,
                    net,
                    rep_id,
                    day,
                    PlanOptions(effort="quick"),
                    max_snap_m=settings.max_snap_distance_m,
                )
                await session.commit()
        timings["plan_s"] = time.perf_counter() - started
    finally:
        await runtime.close()
    return timings


async def _gql(
    client: httpx.AsyncClient,
    token: str,
    query: str,
    variables: dict[str, object],
    stats: Stats,
    op: str,
) -> dict[str, object] | None:
    started = time.perf_counter()
    try:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {token}"},
        )
    except httpx.HTTPError as exc:
        stats.record(op, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
        return None
    elapsed = time.perf_counter() - started
    body = (
        response.json()
        if response.headers.get("content-type", "").startswith("application/json")
        else {}
    )
    error = None
    if response.status_code != 200:
        error = f"HTTP {response.status_code}: {response.text}"
    elif body.get("errors"):
        error = str(body["errors"])
    stats.record(op, elapsed, error)
    return body.get("data") if error is None else None


async def login(client: httpx.AsyncClient, email: str, stats: Stats) -> str | None:
    started = time.perf_counter()
    try:
        response = await client.post("/auth/token", data={"username": email, "password": PASSWORD})
    except httpx.HTTPError as exc:
        stats.record("login", time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
        return None
    stats.record(
        "login",
        time.perf_counter() - started,
        None if response.status_code == 200 else f"HTTP {response.status_code}: {response.text}",
    )
    return str(response.json()["access_token"]) if response.status_code == 200 else None


async def morning(
    client: httpx.AsyncClient,
    token: str,
    day: dt.date,
    rounds: int,
    think: float,
    ramp: float,
    rng: random.Random,
    stats: Stats,
) -> None:
    await asyncio.sleep(rng.uniform(0, ramp))  # reps start their morning over the ramp window
    for _ in range(rounds):
        await asyncio.sleep(rng.uniform(0, 2 * think))
        data = await _gql(client, token, MY_DAY, {"d": day.isoformat()}, stats, "myDay")
        await asyncio.sleep(rng.uniform(0, 2 * think))
        await _gql(client, token, MY_ACCOUNTS, {}, stats, "myAccounts")
        stops = (data or {}).get("myDay", {}).get("stops", []) if data else []  # type: ignore[union-attr]
        if not stops:
            stats.record("checkIn", 0.0, "no stop to check in at")
            continue
        stop = stops[0]
        await asyncio.sleep(rng.uniform(0, 2 * think))
        await _gql(
            client,
            token,
            CHECK_IN,
            {
                "i": {
                    "clientId": f"load-{uuid.uuid4()}",
                    "accountId": stop["accountId"],
                    "at": dt.datetime.now(dt.UTC).isoformat(),
                    "position": {"lat": stop["lat"], "lon": stop["lon"]},
                }
            },
            stats,
            "checkIn",
        )


def worker_cpu(server_pid: int) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each child process of the server."""
    ticks = os.sysconf("SC_CLK_TCK")
    used: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == server_pid:  # fields[1] is the parent pid
            used[int(stat.parent.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return used


async def run_load(
    base_url: str,
    emails: list[str],
    day: dt.date,
    args: argparse.Namespace,
    server_pid: int | None = None,
) -> Stats:
    stats = Stats()
    # Idle connections expire before uvicorn's 5 s keep-alive does: reusing one the server is
    # closing at that moment is a client-side race (ReadError), not a server error.
    limits = httpx.Limits(
        max_connections=len(emails), max_keepalive_connections=len(emails), keepalive_expiry=2.0
    )
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as client:
        gate = asyncio.Semaphore(args.login_concurrency)

        async def one_login(email: str) -> str | None:
            async with gate:
                return await login(client, email, stats)

        started = time.perf_counter()
        tokens = await asyncio.gather(*(one_login(e) for e in emails))
        stats.wall["login"] = time.perf_counter() - started
        rng = random.Random(3)
        cpu_before = worker_cpu(server_pid) if server_pid else {}
        started = time.perf_counter()

        async def one_morning(token: str, seed: float) -> None:
            if args.connections == "shared":
                await morning(client, token, day, args.rounds, args.think, args.ramp,
                              random.Random(seed), stats)  # fmt: skip
                return
            # Each rep's phone keeps its own keep-alive connection, as a phone does.
            own = httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=2.0)
            async with httpx.AsyncClient(base_url=base_url, limits=own, timeout=60) as phone:
                await morning(phone, token, day, args.rounds, args.think, args.ramp,
                              random.Random(seed), stats)  # fmt: skip

        await asyncio.gather(*(one_morning(token, rng.random()) for token in tokens if token))
        stats.wall["morning"] = time.perf_counter() - started
        cpu_after = worker_cpu(server_pid) if server_pid else {}
        stats.worker_cpu = {
            pid: cpu_after[pid] - cpu_before.get(pid, 0.0) for pid in sorted(cpu_after)
        }
    return stats


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def report(stats: Stats, args: argparse.Namespace, setup: dict[str, float], command: str) -> str:
    total = sum(len(v) for v in stats.latencies.values())
    errors = sum(stats.errors.values())
    teams = max(1, (args.reps + 19) // 20)
    logins = len(stats.latencies["login"])
    my_day_p95 = _pct(stats.latencies["myDay"], 0.95) if stats.latencies["myDay"] else float("inf")
    morning_ops = sum(len(stats.latencies[o]) for o in ("myDay", "myAccounts", "checkIn"))
    lines = [
        "## Load: 200 reps' morning on loopback (issue: load test)",
        "",
        f"Machine: {platform.processor() or platform.machine()} ({cpu_model()}), "
        f"{os.cpu_count()} cores shared by the client, both API processes, PostgreSQL and Redis; "
        f"Python {platform.python_version()}; PostgreSQL 15 + PostGIS (local server, throwaway "
        "database), private redis-server.",
        "",
        f"Command: `{command}`",
        "",
        "Server: `fieldrep serve --workers 2` (uvicorn, development settings, default limits: "
        "login attempts and query cost budget were not raised, they did not get in the way).",
        f"Data: {args.reps} reps in {teams} teams, {args.accounts} accounts each, homes and "
        "accounts on real road-network nodes of Liechtenstein; every day planned "
        f"once before the timed run (quick effort). Seeding took {setup['seed_s']:.1f} s, "
        f"planning {setup['plan_s']:.1f} s ({setup['plan_s'] / args.reps * 1000:.0f} ms per rep).",
        f"Load: phase 1, every rep logs in once ({args.login_concurrency} at a time); phase 2, all "
        f"{args.reps} reps starting at random within {args.ramp:g} s, {args.rounds} rounds of myDay (stored plan) -> myAccounts "
        f"(first 20 by priority) -> checkIn at the first stop (unique clientId), think time "
        f"uniform 0..{2 * args.think:g} s before each step. Latency measured at the client; "
        + (
            "the reps share one client connection pool."
            if args.connections == "shared"
            else "each rep has a connection of its own (a phone each)."
        ),
        "",
        "| operation | requests | errors | p50 | p95 | p99 | max |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for op in ("login", "myDay", "myAccounts", "checkIn"):
        values = stats.latencies.get(op, [])
        if not values:
            continue
        lines.append(
            f"| {op} | {len(values)} | {stats.errors.get(op, 0)} | {_pct(values, 0.5):.1f} ms | "
            f"{_pct(values, 0.95):.1f} ms | {_pct(values, 0.99):.1f} ms | "
            f"{max(values) * 1000:.1f} ms |"
        )
    lines += [
        "",
        f"Throughput: login phase {logins / stats.wall['login']:.1f} logins/s "
        f"({stats.wall['login']:.1f} s); morning phase {morning_ops / stats.wall['morning']:.1f} "
        f"requests/s ({morning_ops} requests in {stats.wall['morning']:.1f} s, with think time).",
        f"Error rate: {errors / total * 100:.2f} % ({errors} of {total}).",
        "Server CPU in the morning phase, per process of `fieldrep serve`: "
        + (
            ", ".join(f"{seconds:.1f} s" for seconds in stats.worker_cpu.values())
            if stats.worker_cpu
            else "not measured"
        )
        + f" (of {stats.wall['morning']:.0f} s wall; the workers share the connections "
        "as the kernel hands them out, which is rarely even).",
        f"Load average (1 min) of the machine at the end: {os.getloadavg()[0]:.2f} on "
        f"{os.cpu_count()} cores (other engineers' test runs share them).",
        f"Target myDay p95 < 25 ms: {'met' if my_day_p95 < 25 else 'NOT met'}.",
    ]
    for op, sample in stats.samples.items():
        lines.append(f"First {op} error: `{sample}`")
    return "\n".join(lines) + "\n"


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(300):  # bounded: 60 s
        if proc.poll() is not None:
            raise RuntimeError(f"fieldrep serve exited with {proc.returncode}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("fieldrep serve did not become healthy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--accounts", type=int, default=20, help="accounts per rep")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--think", type=float, default=1.0, help="mean think time (s)")
    parser.add_argument("--ramp", type=float, default=60.0, help="reps start within (s)")
    parser.add_argument("--login-concurrency", type=int, default=8)
    parser.add_argument(
        "--connections",
        choices=("shared", "per-rep"),
        default="per-rep",
        help="morning phase: one connection per rep (a phone each, the default), or one client "
        "pool for all reps (its few busy connections stick to one worker)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "load.md")
    args = parser.parse_args()
    command = "python bench/bench_load.py " + " ".join(sys.argv[1:])

    database = f"fieldrep_load_{os.getpid()}"
    asyncio.run(_pg(f"CREATE DATABASE {database}"))
    redis = RedisServer(free_port())
    redis.start()
    server: subprocess.Popen[bytes] | None = None
    data_dir = Path(os.environ.get("TMPDIR", "/tmp")) / f"fieldrep-load-{os.getpid()}"
    try:
        db_url = _pg_url(database, "postgresql+asyncpg")
        upgrade_to_head(db_url)
        cache = ROOT / ".fieldrep-cache" / "routing"
        settings = Settings(
            environment="development",
            database_url=db_url,
            data_dir=data_dir,
            routing_cache_dir=cache,
            region_path=bundled_region_path(),
        )
        day = dt.date.today()
        setup = asyncio.run(seed(settings, args.reps, args.accounts, day))
        print(f"seeded and planned: {setup}", flush=True)
        port = free_port()
        env = {
            **os.environ,
            "FIELDREP_DATABASE_URL": db_url,
            "FIELDREP_REDIS_URL": redis.url,
            "FIELDREP_DATA_DIR": str(data_dir),
            "FIELDREP_ROUTING_CACHE_DIR": str(cache),
            "FIELDREP_SECRET_KEY": "load-test-secret-" + "x" * 32,
            # 200 phones behind one loopback address: exempt from the per-address budgets
            # (the per-user and per address+e-mail limits still apply).
            "FIELDREP_RATE_LIMIT_EXEMPT": "127.0.0.1",
        }
        fieldrep = Path(sys.executable).with_name("fieldrep")
        server = subprocess.Popen(
            [str(fieldrep), "serve", "--workers", "2", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base_url = f"http://127.0.0.1:{port}"
        _wait_healthy(base_url, server)
        emails = [
            f"rep{t:02d}-{n:02d}@load.test"
            for t in range((args.reps + 19) // 20)
            for n in range(min(20, args.reps - t * 20))
        ]
        stats = asyncio.run(run_load(base_url, emails, day, args, server.pid))
        text = report(stats, args, setup, command)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        print(text)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        redis.stop()
        shutil.rmtree(data_dir, ignore_errors=True)
        asyncio.run(_pg(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))


if __name__ == "__main__":
    main()
