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

from backend.db.engine import make_engine, make_sessionmaker
from backend.jobs.runner import JobRunner
from backend.settings import Settings, bundled_region_path

if TYPE_CHECKING:
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
            settings=settings, engine=engine, sessionmaker=sessionmaker,
            jobs=JobRunner(sessionmaker),
        )

    def today(self) -> dt.date:
        """Today in the deployment's time zone (effective dates are local dates)."""
        from zoneinfo import ZoneInfo

        return dt.datetime.now(ZoneInfo(self.settings.timezone)).date()

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
        return self._network

    async def close(self) -> None:
        """Release the database pool."""
        await self.engine.dispose()
