"""Password hashing with argon2id; verification costs the same whether or not the user exists.

argon2 is deliberately slow (about 200 ms of one core per check, by design: guessing is slow
too). Run inline it would freeze the event loop; run on an unbounded thread pool, a flood of
logins would queue hundreds of checks that fight the event loop for the cores (another user's
request went from 9 to 230 ms). :class:`PasswordChecker` runs checks on a pool of one thread
per core and lets only a bounded number wait; the rest are refused at once
(:class:`PasswordCheckerBusyError`, answered 503 with Retry-After) instead of piling up.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verified against when the e-mail is unknown, so login timing does not reveal which users exist.
_DUMMY_HASH = _hasher.hash("fieldrep-no-such-user")
_T = TypeVar("_T")


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """True when ``password`` matches; spends one argon2 verification even for unknown users."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class PasswordCheckerBusyError(Exception):
    """Every hashing thread is busy and the waiting line is full: retry in a moment."""


class PasswordChecker:
    """argon2 off the event loop, on ``concurrency`` threads, with at most ``queue`` waiting.

    Args:
        concurrency: Checks that run at once (0: one per usable core).
        queue: Checks that may wait for a thread; one more is refused with
            :class:`PasswordCheckerBusyError`.

    Example:
        >>> checker = PasswordChecker(concurrency=2, queue=8)
        >>> ok = await checker.verify("guess", stored_hash)  # doctest: +SKIP
    """

    def __init__(self, concurrency: int = 0, queue: int = 16) -> None:
        self.concurrency = concurrency or usable_cores()
        self.queue = queue
        self._executor = ThreadPoolExecutor(self.concurrency, thread_name_prefix="argon2")
        self._admitted = 0  # running + waiting; touched on the event loop thread only
        #: Most checks admitted at once since start (for tests and diagnostics).
        self.peak_admitted = 0
        #: Checks refused because the line was full.
        self.refused = 0

    @property
    def full(self) -> bool:
        """True when one more check would be refused (callers skip work they would waste)."""
        return self._admitted >= self.concurrency + self.queue

    async def verify(self, password: str, password_hash: str | None) -> bool:
        """:func:`verify_password` on the pool (same cost for unknown users)."""
        return await self._run(verify_password, password, password_hash)

    async def hash(self, password: str) -> str:
        """:func:`hash_password` on the pool."""
        return await self._run(hash_password, password)

    async def _run(self, function: Callable[..., _T], *args: object) -> _T:
        if self.full:
            self.refused += 1
            raise PasswordCheckerBusyError
        loop = asyncio.get_running_loop()
        self._admitted += 1
        self.peak_admitted = max(self.peak_admitted, self._admitted)
        future = self._executor.submit(function, *args)
        # Released when the thread is done, not when the caller stops waiting: a client that
        # disconnects mid-check must not free a slot its check still occupies.
        future.add_done_callback(lambda _: _call_soon(loop, self._release))
        return await asyncio.wrap_future(future)

    def _release(self) -> None:
        self._admitted -= 1

    def close(self) -> None:
        """Stop the threads once running checks finish (waiting ones are dropped)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # a closed loop (shutdown): nobody counts any more
        loop.call_soon_threadsafe(callback)


__all__ = [
    "PasswordChecker",
    "PasswordCheckerBusyError",
    "hash_password",
    "usable_cores",
    "verify_password",
]
