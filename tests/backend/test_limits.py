"""Abuse limits: cost budgets, login attempts, body size, depth/aliases, trusted documents."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis

from backend.api.limits import MemoryBucket, RedisBucket, query_cost
from backend.app import create_app
from backend.runtime import Runtime
from backend.settings import Settings
from graphql import parse
from tests.conftest import REDIS_URL, Api, World

ROOT = Path(__file__).resolve().parents[2]


def test_query_cost_multiplies_pages_and_charges_solvers() -> None:
    small = query_cost(parse("{ myAccounts(first: 10) { edges { node { id name } } } }"))
    large = query_cost(parse("{ myAccounts(first: 100) { edges { node { id name } } } }"))
    assert large > small * 5
    by_variable = query_cost(
        parse("query($n: Int) { myAccounts(first: $n) { edges { node { id } } } }"), {"n": 100}
    )
    assert by_variable == query_cost(parse("{ myAccounts(first: 100) { edges { node { id } } } }"))
    assert query_cost(parse('mutation { planMyDay(date: "2026-11-23") { version } }')) > 200


async def test_cost_is_reported_and_the_budget_enforced(
    tmp_path: Path, settings: Settings, world: World
) -> None:
    tight = settings.model_copy(update={"query_cost_per_minute": 40})
    runtime = Runtime.create(tight)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime=runtime)), base_url="http://t"
        ) as client:
            api = Api(client)
            await api.login("repa1@x.test", world.password)
            first = await api.gql("{ myAccounts(first: 5) { edges { node { id } } } }")
            cost = first["extensions"]["cost"]  # type: ignore[index]
            assert (
                cost["requested"] == 1 + 5 * (1 + 1 + 1) and cost["limit"] == 40
            )  # myAccounts + 5 x (edges, node, id)
            second = await api.gql("{ myAccounts(first: 20) { edges { node { id name } } } }")
            error = second["errors"][0]  # type: ignore[index]
            assert (
                error["extensions"]["code"] == "RATE_LIMITED"
                and error["extensions"]["retryAfter"] > 0
            )
            await api.login("repa2@x.test", world.password)
            other_user = await api.gql("{ myAccounts(first: 5) { edges { node { id } } } }")
            assert "errors" not in other_user  # budgets are per user
    finally:
        await runtime.close()


async def test_login_attempts_are_limited_per_client_and_email(api: Api, world: World) -> None:
    statuses = [(await api.login("repa1@x.test", "wrong")).status_code for _ in range(10)]
    assert statuses == [401] * 10
    blocked = await api.login("repa1@x.test", world.password)
    assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) >= 1
    assert (await api.login("repa2@x.test", world.password)).status_code == 200


async def test_large_bodies_are_refused(api: Api, world: World) -> None:
    await api.login("repa1@x.test", world.password)
    huge = "{ me { id } }" + " " * 1_100_000
    response = await api.client.post(
        "/graphql", json={"query": huge}, headers={"Authorization": f"Bearer {api.token}"}
    )
    assert response.status_code == 413


async def test_depth_and_alias_limits(api: Api, world: World) -> None:
    await api.login("admin@x.test", world.password)
    aliases = "{ " + " ".join(f"a{i}: me {{ id }}" for i in range(20)) + " }"
    body = await api.gql(aliases)
    assert "aliases" in body["errors"][0]["message"].lower()  # type: ignore[index]
    deep = '{ myDay(date: "2026-11-23") { stops { reasons } ' + "}" * 1
    assert "errors" in await api.gql(deep)


async def test_production_runs_only_trusted_documents_without_introspection(
    settings: Settings, world: World
) -> None:
    production = settings.model_copy(update={"environment": "production", "secret_key": "p" * 40})
    runtime = Runtime.create(production)
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(runtime=runtime)), base_url="http://t"
        ) as client:
            api = Api(client)
            await api.login("repa1@x.test", world.password)
            adhoc = await api.gql("{ me { id } }")
            assert adhoc["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"  # type: ignore[index]
            introspection = await api.gql("{ __schema { types { name } } }")
            assert "errors" in introspection
            document, operation = _me_operation()
            response = await client.post(
                "/graphql",
                json={"query": document, "operationName": operation},
                headers={"Authorization": f"Bearer {api.token}"},
            )
            assert response.json()["data"]["me"]["email"] == "repa1@x.test"
            assert (await client.get("/graphql")).status_code in (404, 405)  # no GraphiQL
    finally:
        await runtime.close()


def _me_operation() -> tuple[str, str]:
    """A published document and the name of a variable-free operation in it that selects `me`."""
    from graphql import FieldNode, OperationDefinitionNode

    for path in sorted((ROOT / "graphql" / "operations").glob("*.graphql")):
        text = path.read_text()
        for definition in parse(text).definitions:
            if (
                isinstance(definition, OperationDefinitionNode)
                and definition.operation.value == "query"
                and definition.name is not None
                and not definition.variable_definitions
                and any(
                    isinstance(s, FieldNode) and s.name.value == "me"
                    for s in definition.selection_set.selections
                )
            ):
                return text, definition.name.value
    raise AssertionError("graphql/operations/ has no query selecting `me`")


@pytest.mark.redis
async def test_redis_budget_is_shared_between_processes() -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"Redis not reachable: {exc}")
    prefix = f"test-cost-{uuid.uuid4()}"
    process_a = RedisBucket(client, 10, 10 / 60, prefix)
    process_b = RedisBucket(client, 10, 10 / 60, prefix)
    assert (await process_a.take("user:1", 6))[0]
    allowed, remaining, retry = await process_b.take("user:1", 6)
    assert not allowed and remaining == pytest.approx(4, abs=0.1) and retry > 0
    assert (await process_b.take("user:2", 6))[0]
    await client.aclose()


async def test_memory_bucket_leaks_over_time() -> None:
    bucket = MemoryBucket(capacity=10, per_second=1000)
    assert (await bucket.take("k", 10))[0]
    import asyncio

    await asyncio.sleep(0.02)
    assert (await bucket.take("k", 10))[0]
