"""The engine's working state: arrays over accounts and territories, shared by all passes.

Territory ``j`` is rep ``j`` throughout (homes are matched to territories before the flow
model runs, so locks can be honoured from the start).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(slots=True)
class Problem:
    """Arrays describing one assignment problem and its current solution.

    Attributes:
        w: Workload per account.
        pot: Potential per account.
        cost: ``(p, n)`` float32 drive seconds from each territory's centre to each account.
        active: Territories that are balanced (unlocked).
        fixed: Accounts that may not move (locked to a rep or inside a locked territory).
        orig: Current territory per account for realignment (-1 = none / new / orphaned).
        pen: Seconds per workload unit charged when an account leaves ``orig``.
        cand: ``(n, k)`` candidate territories per account (nearest active centres).
        terr: The solution: territory per account.
    """

    w: FloatArray
    pot: FloatArray
    cost: NDArray[np.float32]
    active: BoolArray
    fixed: BoolArray
    orig: IntArray
    pen: FloatArray
    cand: IntArray
    terr: IntArray

    @property
    def n(self) -> int:
        """Number of accounts."""
        return int(self.w.shape[0])

    @property
    def p(self) -> int:
        """Number of territories."""
        return int(self.cost.shape[0])

    def unit_cost(self, idx: IntArray, terr: IntArray) -> FloatArray:
        """Seconds per workload unit of placing accounts ``idx`` in territories ``terr``."""
        c = self.cost[terr, idx].astype(np.float64)
        o = self.orig[idx]
        return c + np.where((o >= 0) & (o != terr), self.pen[idx], 0.0)

    def loads(self) -> FloatArray:
        """Workload per territory."""
        return np.bincount(self.terr, weights=self.w, minlength=self.p).astype(np.float64)

    def potentials(self) -> FloatArray:
        """Potential per territory."""
        return np.bincount(self.terr, weights=self.pot, minlength=self.p).astype(np.float64)

    def mean_load(self) -> float:
        """Mean workload over the balanced territories."""
        inside = self.active[self.terr]
        return float(self.w[inside].sum() / max(1, int(self.active.sum())))

    def mean_potential(self) -> float:
        """Mean potential over the balanced territories."""
        inside = self.active[self.terr]
        return float(self.pot[inside].sum() / max(1, int(self.active.sum())))

    def refresh_candidates(self, k: int) -> None:
        """Recompute each account's ``k`` nearest active centres (by drive time)."""
        self.cand = nearest_territories(self.cost, self.active, k)

    def dispersion(self) -> float:
        """Workload-weighted mean seconds from each account's territory centre."""
        idx = np.arange(self.n)
        t = self.cost[self.terr, idx].astype(np.float64)
        return float((t * self.w).sum() / max(self.w.sum(), 1e-12))


_BLOCK = 8192
"""Accounts per block in :func:`nearest_territories`: a ``(block, p)`` float32 slice stays in
cache, which makes the partial sort several times faster than one strided pass over ``(p, n)``."""


def nearest_territories(
    cost: NDArray[np.float32],
    active: BoolArray,
    k: int,
    cols: IntArray | None = None,
) -> IntArray:
    """The ``k`` nearest active territories of each account, nearest first.

    Args:
        cost: ``(p, n)`` seconds from each territory centre to each account.
        active: Territories that may be chosen.
        k: How many per account (clipped to the number of active territories).
        cols: Only these accounts (all when ``None``).

    Returns:
        ``(len(cols), k)`` territory indices.
    """
    idx = np.arange(cost.shape[1]) if cols is None else cols
    k = max(1, min(k, int(active.sum())))
    out = np.empty((idx.shape[0], k), dtype=np.int64)
    masked = not bool(active.all())
    for s in range(0, idx.shape[0], _BLOCK):
        sub = cost[:, s : s + _BLOCK] if cols is None else cost[:, idx[s : s + _BLOCK]]
        blk = np.ascontiguousarray(sub.T)
        if masked:
            blk[:, ~active] = np.inf
        if k >= blk.shape[1]:
            part = np.argsort(blk, axis=1)[:, :k]
        else:
            part = np.argpartition(blk, k - 1, axis=1)[:, :k]
        order = np.argsort(np.take_along_axis(blk, part, axis=1), axis=1, kind="stable")
        out[s : s + _BLOCK] = np.take_along_axis(part, order, axis=1)
    return out
