"""Local search after balancing: single moves and pairwise swaps between neighbours.

The flow model optimises against the centres it was given, and the repair and potential
passes after it move accounts for balance, not compactness. After repair most territories
sit at the edge of a tight band (±3 % with ~100 accounts per territory leaves room for one
or two accounts), so single-account moves are mostly blocked; swapping two boundary
accounts between neighbouring territories keeps both loads (and potentials) nearly
unchanged and can still shorten drives. Moves never take a territory outside the workload
or potential band, or further outside than it already was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from routing.territories._problem import Problem

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_SIDE = 24
"""Accounts per side of a territory pair considered for a swap (the cheapest to move): a
swap that pays needs both accounts near the common border, and those are the cheapest."""

_MAX_STEPS_PER_PAIR = 50
"""Moves or swaps applied to one pair per round before moving on (later rounds continue)."""


@dataclass(slots=True)
class _Limits:
    """Per-territory bounds that no move may cross, and the running loads and potentials."""

    w_lo: FloatArray
    w_hi: FloatArray
    p_lo: FloatArray
    p_hi: FloatArray
    load: FloatArray
    pot: FloatArray


def _limits(prob: Problem, band: tuple[float, float], p_band: tuple[float, float]) -> _Limits:
    """The bands, widened for a territory already outside one to where it is now, so a move
    may leave it there or bring it closer but never push it further out."""
    load, pot = prob.loads(), prob.potentials()
    return _Limits(
        w_lo=np.minimum(band[0], load),
        w_hi=np.maximum(band[1], load),
        p_lo=np.minimum(p_band[0], pot),
        p_hi=np.maximum(p_band[1], pot),
        load=load,
        pot=pot,
    )


def _move_table(prob: Problem) -> tuple[IntArray, IntArray, IntArray, FloatArray]:
    """Every (account, source, candidate territory, cost change) move, grouped by pair.

    Sorted by (source, destination) and, within a pair, cheapest first.
    """
    idx = np.flatnonzero(~prob.fixed & prob.active[prob.terr])
    k = prob.cand.shape[1]
    acc = np.repeat(idx, k)
    dst = prob.cand[idx].ravel()
    src = prob.terr[acc]
    keep = (dst != src) & prob.active[dst]
    acc, src, dst = acc[keep], src[keep], dst[keep]
    delta = (prob.unit_cost(acc, dst) - prob.unit_cost(acc, src)) * prob.w[acc]
    # A move dearer than the best gain anywhere cannot be part of an improving swap.
    useful = delta < -min(float(delta.min(initial=0.0)), 0.0)
    acc, src, dst, delta = acc[useful], src[useful], dst[useful], delta[useful]
    order = np.lexsort((delta, dst, src))
    return acc[order], src[order], dst[order], delta[order]


def _best_step(
    prob: Problem,
    lim: _Limits,
    s: int,
    t: int,
    a: IntArray,
    da: FloatArray,
    b: IntArray,
    db: FloatArray,
) -> tuple[float, int, int]:
    """The most cost-lowering feasible option between ``s`` and ``t``: move ``a[i]`` to
    ``t`` and/or ``b[j]`` to ``s`` (``-1`` = no account on that side).

    Returns:
        ``(cost change, i, j)``; the change is ``0.0`` when nothing feasible lowers cost.
    """
    wa, wb = np.append(prob.w[a], 0.0), np.append(prob.w[b], 0.0)
    pa, pb = np.append(prob.pot[a], 0.0), np.append(prob.pot[b], 0.0)
    ls = lim.load[s] - wa[:, None] + wb[None, :]
    lt = lim.load[t] + wa[:, None] - wb[None, :]
    ps = lim.pot[s] - pa[:, None] + pb[None, :]
    pt = lim.pot[t] + pa[:, None] - pb[None, :]
    ok = (ls >= lim.w_lo[s]) & (ls <= lim.w_hi[s]) & (lt >= lim.w_lo[t]) & (lt <= lim.w_hi[t])
    ok &= (ps >= lim.p_lo[s]) & (ps <= lim.p_hi[s]) & (pt >= lim.p_lo[t]) & (pt <= lim.p_hi[t])
    total = np.where(ok, np.append(da, 0.0)[:, None] + np.append(db, 0.0)[None, :], np.inf)
    j = int(np.argmin(total))
    best = float(total.flat[j])
    if not best < -1e-6:
        return 0.0, -1, -1
    ia, ib = divmod(j, wb.shape[0])
    return best, (ia if ia < a.shape[0] else -1), (ib if ib < b.shape[0] else -1)


def _side(
    prob: Problem,
    table: tuple[IntArray, IntArray, IntArray, FloatArray],
    lo: int,
    hi: int,
    src: int,
) -> tuple[IntArray, FloatArray]:
    """The cheapest ``_SIDE`` moves of a pair's slice still in their source territory."""
    acc, delta = table[0][lo:hi], table[3][lo:hi]
    still = prob.terr[acc] == src
    return acc[still][:_SIDE], delta[still][:_SIDE]


def _polish_pair(
    prob: Problem,
    lim: _Limits,
    table: tuple[IntArray, IntArray, IntArray, FloatArray],
    st: tuple[int, int],
    ts: tuple[int, int],
    pair: tuple[int, int],
) -> float:
    """Apply improving moves and swaps between one pair; returns the total cost change."""
    s, t = pair
    gained = 0.0
    for _ in range(_MAX_STEPS_PER_PAIR):
        a, da = _side(prob, table, *st, s)
        b, db = _side(prob, table, *ts, t)
        if (a.shape[0] == 0 or da[0] >= 0) and (b.shape[0] == 0 or db[0] >= 0):
            break  # no move lowers cost, so no swap does either
        change, i, j = _best_step(prob, lim, s, t, a, da, b, db)
        if i < 0 and j < 0:
            break
        if i >= 0:
            _apply(prob, lim, int(a[i]), s, t)
        if j >= 0:
            _apply(prob, lim, int(b[j]), t, s)
        gained += change
    return gained


def _apply(prob: Problem, lim: _Limits, i: int, src: int, dst: int) -> None:
    prob.terr[i] = dst
    lim.load[src] -= prob.w[i]
    lim.load[dst] += prob.w[i]
    lim.pot[src] -= prob.pot[i]
    lim.pot[dst] += prob.pot[i]


def polish(
    prob: Problem, band: tuple[float, float], p_band: tuple[float, float], rounds: int = 4
) -> float:
    """Single moves and pairwise swaps between neighbouring territories that lower cost.

    Pairs are the territories that share candidate accounts; for each, the cheapest
    ``_SIDE`` accounts on either side are tried alone and in pairs, and the best option
    that keeps both territories inside the workload band ``band`` and the potential band
    ``p_band`` (or no further outside than they were) is applied, until none lowers cost.
    Costs are to the current centres (``prob.cost``); the caller re-centres.

    Args:
        prob: The problem; ``prob.terr`` is improved in place.
        band: Workload band ``(lo, hi)`` of every active territory.
        p_band: Potential band (pass infinite bounds to ignore potential).
        rounds: Passes over all pairs at most (a pass that changes nothing ends it).

    Returns:
        The total cost change (seconds times workload; negative or zero).
    """
    lim = _limits(prob, band, p_band)
    total = 0.0
    for _ in range(rounds):
        table = _move_table(prob)
        acc, src, dst, _ = table
        if acc.shape[0] == 0:
            break
        starts = np.flatnonzero(np.r_[True, (src[1:] != src[:-1]) | (dst[1:] != dst[:-1])])
        ends = np.r_[starts[1:], acc.shape[0]]
        slices = {
            (int(src[b]), int(dst[b])): (int(b), int(e))
            for b, e in zip(starts.tolist(), ends.tolist(), strict=True)
        }
        gained = 0.0
        for (s, t), st in slices.items():
            if s > t and (t, s) in slices:
                continue  # visited as (t, s)
            ts = slices.get((t, s), (0, 0))
            gained += _polish_pair(prob, lim, table, st, ts, (s, t))
        total += gained
        if gained >= 0:
            break
    return total


__all__ = ["polish"]
