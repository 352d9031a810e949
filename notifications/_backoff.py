"""Exponential backoff with jitter, shared by the relay, the Redis readers and Web Push.

Why jitter: after a Redis restart every API process retries at once; randomizing the delay
spreads the reconnections instead of hitting the server in lockstep.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays between half and all of ``min(cap, base * 2**n)`` after the n-th failure.

    Args:
        base: Upper bound of the first delay, in seconds.
        cap: Largest delay, in seconds.
    """

    def __init__(self, base: float = 0.2, cap: float = 30.0) -> None:
        self.base = base
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        """Return the delay before the next attempt and count one more failure."""
        ceiling = min(self.cap, self.base * (2**self.failures))
        self.failures = min(self.failures + 1, 32)
        return random.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        """Forget past failures after a success."""
        self.failures = 0
