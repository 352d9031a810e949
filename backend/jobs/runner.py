"""Long work off the request path, with progress the API can show.

The in-process runner executes a job as an asyncio task (CPU-bound parts in a thread) and writes
its state and progress to the ``jobs`` table, so any API process can answer "how far is it".
A running job touches its row every few seconds (a heartbeat); a job whose heartbeat is older
than ``STALE_AFTER`` belongs to a process that died, and any process marks it failed: jobs are
never left "running" forever, and a live job in another worker process is never touched.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.db.models import Job

log = logging.getLogger(__name__)
HEARTBEAT_S = 5.0
STALE_AFTER = dt.timedelta(seconds=60)

ProgressFn = Callable[[str, float], None]
JobBody = Callable[[ProgressFn], Awaitable[dict[str, Any]]]


@dataclass
class _Progress:
    message: str = "queued"
    fraction: float = 0.0
    dirty: bool = False


class JobRunner:
    """Runs jobs in this process and records their state in the database."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker
        self._tasks: dict[str, asyncio.Task[None]] = {}

    async def recover_interrupted(self, now: dt.datetime | None = None) -> int:
        """Mark jobs whose process died (stale heartbeat) as failed; returns how many."""
        cutoff = (now or dt.datetime.now(dt.UTC)) - STALE_AFTER
        async with self._sessionmaker() as session, session.begin():
            result = await session.execute(
                update(Job)
                .where(Job.state.in_(["queued", "running"]), Job.updated_at < cutoff)
                .values(state="failed", message="interrupted (its process stopped); start it again")
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def submit(
        self, kind: str, params: dict[str, Any], created_by_id: int | None, body: JobBody
    ) -> Job:
        """Record a queued job and start it; returns the row (its id is what clients poll)."""
        async with self._sessionmaker() as session, session.begin():
            job = Job(kind=kind, params=params, created_by_id=created_by_id, state="queued")
            session.add(job)
            await session.flush()
        task = asyncio.create_task(self._run(job.id, body), name=f"job-{kind}-{job.id}")
        self._tasks[job.id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(job.id, None))
        return job

    async def wait(self, job_id: str) -> None:
        """Wait for a job started by this process (tests and the CLI use it)."""
        task = self._tasks.get(job_id)
        if task is not None:
            await asyncio.shield(task)

    async def _set(self, job_id: str, **values: Any) -> None:
        async with self._sessionmaker() as session, session.begin():
            await session.execute(update(Job).where(Job.id == job_id).values(**values))

    async def _run(self, job_id: str, body: JobBody) -> None:
        progress = _Progress()

        def report(message: str, fraction: float) -> None:
            progress.message, progress.fraction, progress.dirty = message, fraction, True

        await self._set(job_id, state="running", message="started", progress=0.0)
        work = asyncio.ensure_future(body(report))
        last_write = time.monotonic()
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=0.25)
                if progress.dirty or time.monotonic() - last_write > HEARTBEAT_S:
                    progress.dirty = False
                    last_write = time.monotonic()
                    await self._set(
                        job_id,
                        message=progress.message,
                        progress=min(progress.fraction, 0.99),
                        updated_at=dt.datetime.now(dt.UTC),
                    )
            result = work.result()
        except Exception as exc:  # the job's failure is data for the user, not a crash
            log.exception("job %s failed", job_id)
            await self._set(job_id, state="failed", message=str(exc) or type(exc).__name__)
            return
        await self._set(job_id, state="done", progress=1.0, message="done", result=result)
