"""Shared fixtures: a fresh database per test on SQLite and on PostGIS, and a seeded world.

Each test gets its own database copied from a migrated template (a file copy on SQLite,
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), so assertions can be exact.
PostGIS comes from ``FIELDREP_TEST_POSTGRES_URL`` (default: the local server as postgres).
Outside CI a missing server skips the PostGIS tests; in CI (``CI`` set) it fails them.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import pytest

from backend.app import create_app
from backend.db.migrate import upgrade_to_head
from backend.runtime import Runtime
from backend.settings import Settings

PG_ADMIN_URL = os.environ.get(
    "FIELDREP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REDIS_URL = os.environ.get("FIELDREP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
_counter = itertools.count()


def _pg_server_url(database: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{database}"


async def _pg_exec(sql: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_URL.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_available() -> str | None:
    try:
        asyncio.run(_pg_exec("SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc}"
    return None


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("sqlite") / "template.sqlite3"
    upgrade_to_head(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgis_template() -> Iterator[str]:
    """A migrated PostGIS database that each test clones."""
    problem = _pg_available()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)
    name = f"fieldrep_tpl_{os.getpid()}"
    asyncio.run(_pg_exec(f"DROP DATABASE IF EXISTS {name}"))
    asyncio.run(_pg_exec(f"CREATE DATABASE {name}"))
    upgrade_to_head(_pg_server_url(name).replace("postgresql://", "postgresql+asyncpg://"))
    yield name
    asyncio.run(_pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database URL on each backend."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.sqlite3"
        shutil.copy(template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    template_name: str = request.getfixturevalue("postgis_template")
    name = f"fieldrep_t_{os.getpid()}_{next(_counter)}"
    asyncio.run(_pg_exec(f"CREATE DATABASE {name} TEMPLATE {template_name}"))
    yield _pg_server_url(name).replace("postgresql://", "postgresql+asyncpg://")
    asyncio.run(_pg_exec(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Test settings on the fresh database."""
    return Settings(
        environment="test",
        database_url=db_url,
        data_dir=tmp_path / "data",
        secret_key="test-secret-" + "x" * 32,
        routing_cache_dir=Path(os.environ.get("FIELDREP_TEST_ROUTING_CACHE", tmp_path / "rc")),
    )


@pytest.fixture
async def runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """The process runtime for the test database."""
    rt = Runtime.create(settings)
    yield rt
    await rt.close()


@dataclass
class World:
    """Two teams, each with a manager, two reps and their territories; plus an admin."""

    password: str = "correct horse battery staple"
    users: dict[str, int] = field(default_factory=dict)
    reps: dict[str, int] = field(default_factory=dict)
    teams: dict[str, int] = field(default_factory=dict)
    accounts: dict[str, list[int]] = field(default_factory=dict)
    alignment_ids: dict[str, int] = field(default_factory=dict)


@functools.cache
def _world_password_hash(password: str) -> str:
    from backend.auth.passwords import hash_password

    return hash_password(password)


async def seed_world(runtime: Runtime) -> World:
    """Seed two teams: reps 'a1','a2' (team A) and 'b1','b2' (team B), 3 accounts each."""
    from backend.db.models import Account, AlignmentState, Role
    from backend.services.alignments import store_alignment
    from backend.services.people import create_rep, create_user, get_or_create_team

    world = World()
    password_hash = _world_password_hash(world.password)
    async with runtime.sessionmaker() as session, session.begin():
        admin = await create_user(
            session,
            email="admin@x.test",
            password=world.password,
            password_hash=password_hash,
            full_name="Admin",
            role=Role.ADMIN,
        )
        world.users["admin"] = admin.id
        for team_key, base_lat in (("A", 47.10), ("B", 47.20)):
            team = await get_or_create_team(session, f"Team {team_key}")
            world.teams[team_key] = team.id
            manager = await create_user(
                session,
                email=f"manager{team_key.lower()}@x.test",
                password=world.password,
                password_hash=password_hash,
                full_name=f"Manager {team_key}",
                role=Role.MANAGER,
                team=team,
            )
            world.users[f"m{team_key.lower()}"] = manager.id
            rep_of_account: dict[int, int] = {}
            for n in (1, 2):
                key = f"{team_key.lower()}{n}"
                user = await create_user(
                    session,
                    email=f"rep{key}@x.test",
                    password=world.password,
                    password_hash=password_hash,
                    full_name=f"Rep {key.upper()}",
                    role=Role.REP,
                    team=team,
                )
                rep = await create_rep(session, user=user, team=team, home=(base_lat, 9.52))
                world.users[key] = user.id
                world.reps[key] = rep.id
                ids = []
                for i in range(3):
                    lat, lon = base_lat + 0.001 * n, 9.52 + 0.001 * i
                    account = Account(
                        external_id=f"{key}-{i}",
                        team_id=team.id,
                        name=f"Acct {key}-{i}",
                        lat=lat,
                        lon=lon,
                        location=(lat, lon),
                        potential=1000.0 * (i + 1),
                    )
                    session.add(account)
                    await session.flush()
                    ids.append(account.id)
                    rep_of_account[account.id] = rep.id
                world.accounts[key] = ids
            alignment = await store_alignment(
                session,
                team_id=team.id,
                name=f"Team {team_key} v1",
                rep_of_account=rep_of_account,
                state=AlignmentState.ACTIVE,
            )
            world.alignment_ids[team_key] = alignment.id
    return world


@pytest.fixture
async def world(runtime: Runtime) -> World:
    """The seeded two-team world."""
    return await seed_world(runtime)


class Api:
    """A GraphQL client on the ASGI app, logged in as one user."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.token: str | None = None

    async def login(self, email: str, password: str) -> httpx.Response:
        response = await self.client.post(
            "/auth/token", data={"username": email, "password": password}
        )
        if response.status_code == 200:
            self.token = response.json()["access_token"]
        return response

    async def gql(self, query: str, **variables: object) -> dict[str, object]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        response = await self.client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        assert response.status_code < 500, response.text
        body: dict[str, object] = response.json()
        return body


@pytest.fixture
async def api(runtime: Runtime) -> AsyncIterator[Api]:
    """An unauthenticated API client on the app for ``runtime``."""
    app = create_app(runtime=runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client)
