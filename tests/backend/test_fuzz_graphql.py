"""Schema-driven fuzzing of every query and mutation with a rep's token (Schemathesis).

Schemathesis (with hypothesis-graphql) writes valid documents for each root field from the
schema's introspection, with arbitrary argument values: negative page sizes, huge ids, odd
strings, dates far in the past or future, naive timestamps. Whatever the input, the API must
answer without a 5xx and every error must carry ``extensions.code``. Bounded: a few examples
per operation (about 100 in all), on one seeded SQLite database.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.graphql import nodes

from backend.api.schema import build_schema
from backend.app import create_app
from backend.auth.tokens import issue_token
from backend.runtime import Runtime
from backend.settings import Settings
from graphql import get_introspection_query, graphql_sync
from tests.conftest import seed_world

EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES", "3"))

schemathesis.graphql.scalar("Date", st.dates().map(lambda d: nodes.String(d.isoformat())))
schemathesis.graphql.scalar(
    "DateTime",
    st.datetimes(timezones=st.none() | st.just(dt.UTC)).map(lambda d: nodes.String(d.isoformat())),
)
schemathesis.graphql.scalar("JSON", st.just(nodes.String("{}")))


def _operations() -> list[Any]:
    schema = build_schema(Settings(environment="development"))._schema
    introspection = graphql_sync(schema, get_introspection_query())
    assert introspection.errors is None and introspection.data is not None
    loaded = schemathesis.graphql.from_dict(introspection.data)
    return [result.ok() for result in loaded.get_all_operations()]


OPERATIONS = _operations()


@dataclass
class Target:
    """The app on a seeded database and a rep's bearer header."""

    client: TestClient
    headers: dict[str, str]


@pytest.fixture(scope="module")
def target(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    folder = tmp_path_factory.mktemp("fuzz")
    shutil.copy(sqlite_template, folder / "fuzz.sqlite3")
    cache = os.environ.get("FIELDREP_TEST_ROUTING_CACHE") or str(
        Path(__file__).resolve().parents[2] / ".fieldrep-cache" / "routing"
    )
    app_settings = Settings(
        environment="test",
        database_url=f"sqlite+aiosqlite:///{folder / 'fuzz.sqlite3'}",
        data_dir=folder / "data",
        secret_key="test-secret-" + "x" * 32,
        routing_cache_dir=Path(cache),
    )

    async def seed() -> int:
        runtime = Runtime.create(app_settings)
        try:
            world = await seed_world(runtime)
        finally:
            await runtime.close()
        return world.users["a1"]

    rep_user = asyncio.run(seed())
    token = issue_token(rep_user, "rep", app_settings.secret_key, dt.timedelta(hours=1))
    # No lifespan: requests only (the relay and scheduler are not under test here).
    client = TestClient(create_app(app_settings), raise_server_exceptions=False)
    yield Target(client, {"Authorization": f"Bearer {token}"})
    client.close()


def _codeless(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in errors if "code" not in (e.get("extensions") or {})]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("operation", OPERATIONS, ids=[o.label for o in OPERATIONS])
def test_no_5xx_and_every_error_has_a_code(target: Target, operation: Any) -> None:
    """Any document the schema allows, with any argument values: no 5xx, coded errors only."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = target.client.post("/graphql", json={"query": case.body}, headers=target.headers)
        assert response.status_code < 500, (
            f"{response.status_code} for {case.body}\n{response.text}"
        )
        body = response.json()
        assert _codeless(body.get("errors") or []) == [], f"for {case.body}: {body}"

    run()


# ---- edge inputs found while fuzzing by hand --------------------------------------------------
# Each must be answered with a coded error (or data), like any other input. All of these were
# answered without a code when first found (uncaught OverflowError, driver errors for ids beyond
# the INTEGER range); they are fixed and stay here as regressions. Documents that fail GraphQL
# validation (e.g. an Int literal beyond 32 bits) keep graphql-core's own, uncoded errors by
# design (backend/api/limits.py) and are not probed.

EDGE_CASES: list[tuple[str, str, str]] = [
    (
        "manager",
        "coverage from year 1",
        '{ coverage(teamId: "TEAM", from: "0001-01-01", to: "0001-01-02") { teamId } }',
    ),
    (
        "manager",
        "coverage up to year 9999",
        '{ coverage(teamId: "TEAM", from: "9999-12-30", to: "9999-12-31") { teamId } }',
    ),
    (
        "manager",
        "windshield up to year 9999",
        '{ windshield(teamId: "TEAM", from: "9999-12-01", to: "9999-12-31") { teamId } }',
    ),
    (
        "rep",
        "replan at the end of year 9999",
        'mutation { replanMyDay(position: {lat: 47.1, lon: 9.52}, at: "9999-12-31T23:59:59+00:00")'
        " { repId } }",
    ),
    (
        "rep",
        "check in at year 1 with a +14:00 offset",
        'mutation { checkIn(input: {clientId: "edge-case-1", accountId: "ACCOUNT",'
        ' at: "0001-01-01T00:00:00+14:00", position: {lat: 47.1, lon: 9.52}}) { id } }',
    ),
    ("rep", "an id beyond 64 bits", '{ account(id: "99999999999999999999999") { id } }'),
    ("rep", "an id beyond 32 bits (PostgreSQL INTEGER)", '{ account(id: "3000000000") { id } }'),
    ("rep", "a team id beyond 64 bits", '{ reps(teamId: "99999999999999999999999") { id } }'),
    (
        "rep",
        "shift start 25:00",
        'mutation { planMyDay(date: "2030-01-07", options: {shiftStart: "25:00"}) { repId } }',
    ),
    ("rep", "a malformed cursor", '{ myAccounts(after: "!!!") { totalCount } }'),
    ("rep", "a job id of 5000 characters", '{ job(id: "' + "x" * 5000 + '") { id } }'),
]


@pytest.mark.parametrize(
    ("who", "query"), [pytest.param(who, query, id=name) for who, name, query in EDGE_CASES]
)
async def test_edge_input_gets_a_coded_answer(api: Any, world: Any, who: str, query: str) -> None:
    """Extreme dates, huge ids and odd literals: no 5xx, and the error carries a code."""
    email = "managera@x.test" if who == "manager" else "repa1@x.test"
    assert (await api.login(email, world.password)).status_code == 200
    document = query.replace("TEAM", str(world.teams["A"])).replace(
        "ACCOUNT", str(world.accounts["a1"][0])
    )
    body = await api.gql(document)  # asserts status < 500
    errors = body.get("errors") or []
    assert errors, body
    assert _codeless(errors) == [], body
    assert errors[0]["extensions"]["code"] != "INTERNAL_SERVER_ERROR", body
