"""Login and request limits per client address, argon2 on a bounded pool, the limiters without
Redis, and which address counts (``X-Forwarded-For`` only from configured proxies).

Everything runs against the real app (httpx on ASGI, with the client address set per
transport), the real Redis (db 15, a random address per test so runs never share a bucket) and,
for the launch check, a real ``fieldrep serve`` process.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from backend.app import create_app
from backend.runtime import Runtime
from backend.settings import Settings
from tests.conftest import REDIS_URL, World, seed_world

ROOT = Path(__file__).resolve().parents[2]
WRONG = "not the password"
#: Nothing listens here: Redis "down" as an operator meets it (connection refused).
DEAD_REDIS = "redis://127.0.0.1:1/15"


def _random_address() -> str:
    """A private address no other run is likely to use (Redis keys outlive a test run)."""
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


@pytest.fixture
def base_settings(sqlite_template: Path, tmp_path: Path) -> Settings:
    """Test settings on a fresh SQLite copy (the limits do not depend on the database)."""
    path = tmp_path / "login.sqlite3"
    shutil.copy(sqlite_template, path)
    return Settings(
        environment="test",
        database_url=f"sqlite+aiosqlite:///{path}",
        data_dir=tmp_path / "data",
        secret_key="test-secret-" + "x" * 32,
        routing_cache_dir=Path(os.environ.get("FIELDREP_TEST_ROUTING_CACHE", tmp_path / "rc")),
    )


@pytest.fixture
async def seeded(base_settings: Settings) -> World:
    runtime = Runtime.create(base_settings)
    try:
        return await seed_world(runtime)
    finally:
        await runtime.close()


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(settings)
    try:
        yield runtime
    finally:
        await runtime.close()


def client_from(runtime: Runtime, address: str) -> httpx.AsyncClient:
    """An HTTP client whose TCP peer address the app sees as ``address``."""
    transport = httpx.ASGITransport(app=create_app(runtime=runtime), client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def _login(
    client: httpx.AsyncClient, email: str, password: str, **headers: str
) -> httpx.Response:
    return await client.post(
        "/auth/token", data={"username": email, "password": password}, headers=headers
    )


def _emails(count: int) -> list[str]:
    return [f"nobody{n}@x.test" for n in range(count)]


# ---- per-address login limit -----------------------------------------------------------------


async def test_one_address_cannot_try_25_emails(base_settings: Settings, seeded: World) -> None:
    """The probe: 25 e-mails from one address, each once, got 25 answers 401 and no 429."""
    async with serving(base_settings) as runtime:
        async with client_from(runtime, "198.51.100.7") as attacker:
            statuses = [(await _login(attacker, e, WRONG)).status_code for e in _emails(25)]
            refused = await _login(attacker, "repa1@x.test", seeded.password)
        # 20 per 5 minutes; the bucket leaks 1 per 15 s, so a slow run may see one or two more.
        assert statuses[:20] == [401] * 20
        assert statuses[-1] == 429 and statuses.count(401) <= 22
        assert refused.status_code == 429  # even the right password, from this address
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["detail"]["code"] == "RATE_LIMITED"
        async with client_from(runtime, "198.51.100.8") as neighbour:
            assert (await _login(neighbour, "repa1@x.test", seeded.password)).status_code == 200


async def test_successful_logins_give_their_attempt_back(
    base_settings: Settings, seeded: World
) -> None:
    """An office behind one NAT address logs everyone in: only failures drain the budget."""
    users = ["admin@x.test", "managera@x.test", "repa1@x.test", "repa2@x.test", "repb1@x.test"]
    async with serving(base_settings) as runtime, client_from(runtime, "192.0.2.10") as office:
        statuses = [
            (await _login(office, email, seeded.password)).status_code
            for _ in range(6)
            for email in users
        ]
    assert statuses == [200] * 30


async def test_exempt_addresses_skip_the_address_limit_but_not_the_email_limit(
    base_settings: Settings, seeded: World
) -> None:
    """A load generator on an exempt address may log in hundreds of reps; guessing one
    account's password from there is still limited per e-mail."""
    settings = base_settings.model_copy(update={"rate_limit_exempt": ["192.0.2.0/24"]})
    async with serving(settings) as runtime, client_from(runtime, "192.0.2.99") as loader:
        assert {(await _login(loader, e, WRONG)).status_code for e in _emails(25)} == {401}
        statuses = [(await _login(loader, "repa1@x.test", WRONG)).status_code for _ in range(11)]
    assert statuses == [401] * 10 + [429]


# ---- which address counts ----------------------------------------------------------------------


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    base_settings: Settings, seeded: World
) -> None:
    """Without FIELDREP_TRUSTED_PROXIES, a caller naming a fresh address per request in
    X-Forwarded-For is still one address (it used to be trusted from any local client)."""
    settings = base_settings.model_copy(update={"login_attempts_per_address_per_5min": 5})
    async with serving(settings) as runtime, client_from(runtime, "127.0.0.1") as local:
        statuses = [
            (await _login(local, e, WRONG, **{"X-Forwarded-For": f"203.0.113.{n}"})).status_code
            for n, e in enumerate(_emails(8))
        ]
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429


async def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    base_settings: Settings, seeded: World
) -> None:
    """Behind a configured proxy each real client has its own budget; a client's own forged
    hop (left of what the proxy appended) does not help it."""
    settings = base_settings.model_copy(
        update={"trusted_proxies": ["10.0.0.0/8"], "login_attempts_per_address_per_5min": 5}
    )
    async with serving(settings) as runtime, client_from(runtime, "10.1.2.3") as proxy:
        for n, email in enumerate(_emails(8)):  # 8 different clients, one attempt each
            response = await _login(proxy, email, WRONG, **{"X-Forwarded-For": f"203.0.113.{n}"})
            assert response.status_code == 401
        forged = [
            await _login(proxy, e, WRONG, **{"X-Forwarded-For": f"1.2.3.{n}, 198.51.100.200"})
            for n, e in enumerate(_emails(8))
        ]
    assert forged[-1].status_code == 429  # all counted against 198.51.100.200


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(sqlite_template: Path, tmp_path: Path) -> Iterator[str]:
    """`fieldrep serve` as an operator starts it (uvicorn), on a seeded SQLite file."""
    data = tmp_path / "served"
    data.mkdir()
    shutil.copy(sqlite_template, data / "fieldrep.sqlite3")
    port = _free_port()
    env = {
        **os.environ,
        "FIELDREP_ENVIRONMENT": "test",
        "FIELDREP_DATA_DIR": str(data),
        "FIELDREP_SECRET_KEY": "test-secret-" + "x" * 32,
        "FIELDREP_WEB_PUSH": "false",
        "FIELDREP_LOGIN_ATTEMPTS_PER_ADDRESS_PER_5MIN": "5",
    }
    env.pop("FIELDREP_DATABASE_URL", None)
    env.pop("FIELDREP_REDIS_URL", None)
    env.pop("FORWARDED_ALLOW_IPS", None)
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli.main", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "serve.log"
            ).read_text()
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_the_launched_server_does_not_trust_forwarded_for_from_loopback(served: str) -> None:
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default (proxy_headers); `fieldrep
    serve` turns that off, so a local caller cannot mint addresses either."""
    statuses = [
        httpx.post(
            f"{served}/auth/token",
            data={"username": email, "password": WRONG},
            headers={"X-Forwarded-For": f"203.0.113.{n}"},
            timeout=30,
        ).status_code
        for n, email in enumerate(_emails(8))
    ]
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429


# ---- without Redis, and shared through Redis ---------------------------------------------------


async def test_with_redis_down_the_login_limit_still_holds(
    base_settings: Settings, seeded: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis unreachable used to mean no login limit at all (fail open). Now each process
    limits on its own and says so once."""
    settings = base_settings.model_copy(update={"redis_url": DEAD_REDIS})
    caplog.set_level(logging.WARNING, logger="backend.api.request_limits")
    async with serving(settings) as runtime, client_from(runtime, "198.51.100.9") as client:
        statuses = [(await _login(client, "repa1@x.test", WRONG)).status_code for _ in range(11)]
        many = [(await _login(client, e, WRONG)).status_code for e in _emails(15)]
    assert statuses == [401] * 10 + [429]
    assert many[-1] == 429  # the per-address budget (20) too: 11 + 15 attempts
    outages = [r for r in caplog.records if "Redis unreachable" in r.getMessage()]
    # Once per limiter (requests, per address, per address and e-mail), not once per request.
    assert {r.args[0] for r in outages} == {  # type: ignore[index]
        "fieldrep:requests",
        "fieldrep:login-address",
        "fieldrep:login",
    }
    assert len(outages) == 3


@pytest.mark.redis
async def test_login_budgets_are_shared_between_processes_through_redis(
    base_settings: Settings, seeded: World
) -> None:
    """Two API processes (two runtimes) on one Redis: an address's attempts are counted once in
    total, not once per process."""
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis not reachable: {exc}")
    finally:
        await client.aclose()
    settings = base_settings.model_copy(
        update={"redis_url": REDIS_URL, "login_attempts_per_address_per_5min": 5}
    )
    address = _random_address()
    emails = [f"{uuid.uuid4().hex}@x.test" for _ in range(6)]
    async with (
        serving(settings) as one,
        serving(settings) as two,
        client_from(one, address) as a,
        client_from(two, address) as b,
    ):
        first = [(await _login(a, e, WRONG)).status_code for e in emails[:3]]
        second = [(await _login(b, e, WRONG)).status_code for e in emails[3:]]
    assert first == [401] * 3
    assert second == [401, 401, 429]


# ---- argon2 on a bounded pool ------------------------------------------------------------------


async def test_a_login_flood_waits_in_a_bounded_line_or_gets_503(
    base_settings: Settings, seeded: World
) -> None:
    """30 logins at once from 30 addresses: at most concurrency + queue hashes are admitted, the
    rest are refused at once with 503 + Retry-After instead of piling up."""
    settings = base_settings.model_copy(
        update={"password_hash_concurrency": 1, "password_hash_queue": 2}
    )
    async with serving(settings) as runtime:
        clients = [client_from(runtime, f"198.51.100.{n}") for n in range(30)]
        try:
            answers = await asyncio.gather(
                *(_login(c, f"u{n}@x.test", WRONG) for n, c in enumerate(clients))
            )
        finally:
            for c in clients:
                await c.aclose()
        checker = runtime.password_checker
        assert checker.concurrency == 1
        assert checker.peak_admitted <= 3
    statuses = [a.status_code for a in answers]
    assert statuses.count(401) >= 3 and statuses.count(503) >= 20, statuses
    busy = next(a for a in answers if a.status_code == 503)
    assert busy.headers["retry-after"] == "1"
    assert busy.json()["detail"] == {
        "code": "UNAVAILABLE",
        "retryable": True,
        "message": "busy; retry shortly",
    }


async def test_the_pool_is_sized_to_the_cores_by_default(base_settings: Settings) -> None:
    async with serving(base_settings) as runtime:
        assert runtime.password_checker.concurrency == len(os.sched_getaffinity(0))


# ---- per-address request limit for the whole API ----------------------------------------------


async def test_requests_per_address_are_limited_with_retry_after(
    base_settings: Settings, seeded: World
) -> None:
    """Every /graphql and /auth request counts; the PWA's files and /healthz do not."""
    settings = base_settings.model_copy(
        update={"address_requests_per_minute": 60, "address_request_burst": 5}
    )
    query = {"query": "{ me { id } }"}
    async with serving(settings) as runtime:
        async with client_from(runtime, "198.51.100.20") as noisy:
            answers = [(await noisy.post("/graphql", json=query)).status_code for _ in range(6)]
            refused = await noisy.post("/auth/token", data={"username": "a", "password": "b"})
            assert (await noisy.get("/healthz")).status_code == 200
            assert (await noisy.get("/app/")).status_code == 200
        async with client_from(runtime, "198.51.100.21") as other:
            assert (await other.post("/graphql", json=query)).status_code == 200
    assert answers == [200] * 5 + [429]
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["code"] == "RATE_LIMITED"


async def test_ipv6_clients_are_counted_per_64(base_settings: Settings, seeded: World) -> None:
    """Rotating through one's own /64 (2^64 addresses) does not reset the budget."""
    settings = base_settings.model_copy(
        update={"address_requests_per_minute": 60, "address_request_burst": 3}
    )
    async with serving(settings) as runtime:
        statuses = []
        for n in range(4):
            async with client_from(runtime, f"2001:db8:1:2::{n + 1:x}") as client:
                statuses.append(await client.post("/graphql", json={"query": "{ me { id } }"}))
    assert [s.status_code for s in statuses] == [200, 200, 200, 429]


async def test_exempt_addresses_and_zero_switch_the_request_limit_off(
    base_settings: Settings, seeded: World
) -> None:
    tight = {"address_requests_per_minute": 60, "address_request_burst": 2}
    exempt = base_settings.model_copy(update={**tight, "rate_limit_exempt": ["127.0.0.1"]})
    off = base_settings.model_copy(update={"address_requests_per_minute": 0})
    for settings in (exempt, off):
        async with serving(settings) as runtime, client_from(runtime, "127.0.0.1") as client:
            answers = [
                (await client.post("/graphql", json={"query": "{ me { id } }"})).status_code
                for _ in range(5)
            ]
        assert answers == [200] * 5


@pytest.mark.redis
async def test_request_budget_is_shared_through_redis_and_survives_its_outage(
    base_settings: Settings, seeded: World
) -> None:
    tight = {"address_requests_per_minute": 60, "address_request_burst": 4}
    shared = base_settings.model_copy(update={**tight, "redis_url": REDIS_URL})
    address = _random_address()
    query = {"query": "{ me { id } }"}
    async with (
        serving(shared) as one,
        serving(shared) as two,
        client_from(one, address) as a,
        client_from(two, address) as b,
    ):
        first = [(await a.post("/graphql", json=query)).status_code for _ in range(2)]
        second = [(await b.post("/graphql", json=query)).status_code for _ in range(3)]
    assert first == [200, 200] and second == [200, 200, 429]
    down = base_settings.model_copy(update={**tight, "redis_url": DEAD_REDIS})
    async with serving(down) as runtime, client_from(runtime, address) as client:
        answers = [(await client.post("/graphql", json=query)).status_code for _ in range(5)]
    assert answers == [200] * 4 + [429]


def test_default_limits_are_set() -> None:
    """The defaults documented in SECURITY.md (a change here is a change there)."""
    defaults = Settings()
    assert defaults.login_attempts_per_address_per_5min == 20
    assert defaults.address_requests_per_minute == 1200
    assert defaults.address_request_burst == 600
    assert defaults.trusted_proxies == [] and defaults.rate_limit_exempt == []


def test_address_lists_read_comma_separated_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FIELDREP_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1")
    monkeypatch.setenv("FIELDREP_RATE_LIMIT_EXEMPT", '["127.0.0.1/32"]')
    settings = Settings()
    assert settings.trusted_proxies == ["10.0.0.0/8", "192.0.2.1"]
    assert settings.rate_limit_exempt == ["127.0.0.1/32"]
    monkeypatch.setenv("FIELDREP_TRUSTED_PROXIES", "10.0.0.0/8, not-an-address")
    with pytest.raises(ValueError, match="not-an-address"):
        Settings()
