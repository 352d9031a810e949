"""Fixtures for the notifications tests: the shared Redis (db 15) and private redis-servers.

Redis tests skip with a reason when Redis is unreachable, except under ``CI`` where they fail,
so a broken CI service cannot turn the fault tests into silent skips.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis
import redis.asyncio as aioredis

from tests.redis_server import RedisServer, free_port

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_url() -> str:
    return os.environ.get("FIELDREP_TEST_REDIS_URL", DEFAULT_REDIS_URL)


def unavailable(reason: str) -> None:
    """Skip locally, fail in CI."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A private redis-server (never the shared one) for tests that stop or disturb Redis."""
    if shutil.which("redis-server") is None:
        unavailable("redis-server binary not on PATH")
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def shared_redis() -> AsyncIterator[tuple[aioredis.Redis, str]]:
    """A client of the shared test Redis and a key prefix unique to this test (cleaned up)."""
    url = redis_url()
    client = aioredis.Redis.from_url(url, decode_responses=False, socket_connect_timeout=1)
    try:
        await client.ping()
    except (redis.RedisError, OSError) as exc:
        await client.aclose()
        unavailable(f"Redis unreachable at {url}: {exc!r}")
    prefix = f"fieldrep-test:{uuid.uuid4().hex[:10]}:"
    try:
        yield client, prefix
    finally:
        async for key in client.scan_iter(match=f"{prefix}*"):
            await client.delete(key)
        await client.aclose()
