"""Process-wide resources shared by requests: settings, database, road network.

Created once by the app factory (or the CLI) and injected into every request's context, so no
module reads global state.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from backend.api.limits import Bucket
from backend.db.engine import make_engine, make_sessionmaker
from backend.heap import settle_heap
from backend.jobs.runner import JobRunner
from backend.settings import Settings, bundled_region_path

if TYPE_CHECKING:
    from backend.auth.passwords import PasswordChecker
    from routing.network import RoadNetwork


@dataclass
class Runtime:
    """Everything a request may need beyond its own session."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    jobs: JobRunner
    _network: RoadNetwork | None = None
    relay_wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _network_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        """Open the database engine for ``settings``."""
        engine = make_engine(settings.effective_database_url)
        sessionmaker = make_sessionmaker(engine)
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=sessionmaker,
            jobs=JobRunner(sessionmaker),
        )

    @property
    def query_bucket(self) -> Bucket:
        """Per-user GraphQL cost budget (Redis when configured, so processes share it)."""
        bucket = self.extras.get("query_bucket")
        if bucket is None:
            per_minute = float(self.settings.query_cost_per_minute)
            bucket = self._bucket(per_minute, per_minute / 60.0, "fieldrep:cost")
            self.extras["query_bucket"] = bucket
        return bucket  # type: ignore[no-any-return]

    @property
    def login_bucket(self) -> Bucket:
        """Login attempts per client and e-mail (5-minute window)."""
        bucket = self.extras.get("login_bucket")
        if bucket is None:
            attempts = float(self.settings.login_attempts_per_5min)
            bucket = self._bucket(attempts, attempts / 300.0, "fieldrep:login")
            self.extras["login_bucket"] = bucket
        return bucket  # type: ignore[no-any-return]

    def bucket(self, prefix: str, capacity: float, per_second: float) -> Bucket:
        """The leaky bucket named ``prefix``, made once per runtime (see :meth:`_bucket`)."""
        name = f"bucket:{prefix}"
        bucket = self.extras.get(name)
        if bucket is None:
            bucket = self._bucket(capacity, per_second, prefix)
            self.extras[name] = bucket
        return bucket  # type: ignore[no-any-return]

    @property
    def password_checker(self) -> PasswordChecker:
        """argon2 on a bounded pool (``FIELDREP_PASSWORD_HASH_CONCURRENCY`` / ``_QUEUE``)."""
        checker = self.extras.get("password_checker")
        if checker is None:
            from backend.auth.passwords import PasswordChecker

            checker = PasswordChecker(
                self.settings.password_hash_concurrency, self.settings.password_hash_queue
            )
            self.extras["password_checker"] = checker
        return checker  # type: ignore[no-any-return]

    def _bucket(self, capacity: float, per_second: float, prefix: str) -> Bucket:
        """In Redis when configured (limiting per process while it is down), else in memory."""
        from backend.api.request_limits import FallbackRedisBucket, PrunedMemoryBucket

        if self.settings.redis_url:
            import redis.asyncio as aioredis

            client = self.extras.get("redis")
            if client is None:
                client = aioredis.Redis.from_url(
                    self.settings.redis_url, socket_timeout=2, socket_connect_timeout=2
                )
                self.extras["redis"] = client
            return FallbackRedisBucket(client, capacity, per_second, prefix)
        return PrunedMemoryBucket(capacity, per_second)

    def today(self) -> dt.date:
        """Today in the deployment's time zone (effective dates are local dates)."""
        from backend.services.timeutil import local_today

        return local_today(self.settings.timezone)

    def wake_relay(self) -> None:
        """Tell the in-process outbox relay that new rows were committed."""
        self.relay_wakeup.set()

    @property
    def region_path(self) -> Path:
        """The OSM extract this deployment routes on."""
        return self.settings.region_path or bundled_region_path()

    async def road_network(self) -> RoadNetwork:
        """The compiled road network, loaded once from the on-disk cache (built on first use)."""
        if self._network is None:
            async with self._network_lock:
                if self._network is None:
                    from routing.network import load_region

                    self._network = await asyncio.to_thread(
                        load_region,
                        self.region_path,
                        cache_dir=self.settings.effective_routing_cache_dir,
                    )
                    settle_heap(force=self.settings.environment != "test")
        return self._network

    async def close(self) -> None:
        """Release the database pool (and the Redis client of the limiters)."""
        client = self.extras.pop("redis", None)
        if client is not None:
            await client.aclose()
        checker = self.extras.pop("password_checker", None)
        if checker is not None:
            checker.close()
        await self.engine.dispose()
