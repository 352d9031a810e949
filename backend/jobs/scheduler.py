"""Periodic work inside an API process: activating alignments whose effective date has come."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from backend.runtime import Runtime
from backend.services.territories import activate_due_alignments

log = logging.getLogger(__name__)


async def activate_due(runtime: Runtime) -> list[int]:
    """One pass: fail dead jobs; activate what is due today with its outbox events."""
    await runtime.jobs.recover_interrupted()
    async with runtime.sessionmaker() as session, session.begin():
        activated = await activate_due_alignments(session, runtime.today())
    if activated:
        log.info("activated alignments %s", activated)
        runtime.wake_relay()
    return activated


async def run_scheduler(runtime: Runtime, interval_s: float = 30.0) -> None:
    """Loop forever; a failing pass is logged and retried at the next tick."""
    while True:
        try:
            await activate_due(runtime)
        except Exception:  # keep the loop alive; the next pass retries
            log.exception("scheduler pass failed")
        await asyncio.sleep(interval_s)


@contextlib.asynccontextmanager
async def background(runtime: Runtime, interval_s: float = 30.0):  # type: ignore[no-untyped-def]
    """Run the scheduler for the lifetime of the app."""
    task = asyncio.create_task(run_scheduler(runtime, interval_s), name="fieldrep-scheduler")
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
