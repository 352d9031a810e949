"""Integer repair and local improvement after the flow model.

``repair_balance`` turns "almost balanced" into "every territory within the band": it takes
the territory furthest outside, finds by Dijkstra over the territory adjacency graph the
cheapest chain of neighbouring territories ending in one with room (or surplus), and moves
boundary accounts along that chain, cheapest dispersion increase per workload hour first
(when a hop cannot be built, the next cheapest chain without it is tried).
``improve`` then moves single accounts that lower cost without leaving the band, and
``balance_potential`` trades accounts between neighbours to bring potential into its band
without breaking workload.
"""

from __future__ import annotations

import heapq
import itertools

import numpy as np
from numpy.typing import NDArray

from routing.territories._problem import Problem

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

_HOP = 1.0  # seconds added per chain hop so that, at equal cost, short chains win


def _members(prob: Problem, t: int) -> IntArray:
    return np.flatnonzero((prob.terr == t) & ~prob.fixed)


def _out_edges(prob: Problem, x: int) -> FloatArray:
    """Cheapest per-unit cost increase of moving one account from ``x`` to each territory."""
    best = np.full(prob.p, np.inf)
    idx = _members(prob, x)
    if idx.shape[0] == 0:
        return best
    dst = prob.cand[idx].ravel()
    src_idx = np.repeat(idx, prob.cand.shape[1])
    delta = prob.unit_cost(src_idx, dst) - np.repeat(
        prob.unit_cost(idx, np.full(idx.shape[0], x)), prob.cand.shape[1]
    )
    ok = (dst != x) & prob.active[dst]
    np.minimum.at(best, dst[ok], delta[ok])
    return best


def _in_edges(prob: Problem, y: int, by_cand: list[IntArray]) -> FloatArray:
    """Cheapest per-unit cost increase of moving one account into ``y`` from each territory."""
    best = np.full(prob.p, np.inf)
    idx = by_cand[y]
    idx = idx[(prob.terr[idx] != y) & ~prob.fixed[idx]]
    if idx.shape[0] == 0:
        return best
    src = prob.terr[idx]
    delta = prob.unit_cost(idx, np.full(idx.shape[0], y)) - prob.unit_cost(idx, src)
    ok = prob.active[src]
    np.minimum.at(best, src[ok], delta[ok])
    return best


def candidates_index(prob: Problem) -> list[IntArray]:
    """For each territory, the accounts that have it among their candidates."""
    flat = prob.cand.ravel()
    acc = np.repeat(np.arange(prob.n), prob.cand.shape[1])
    order = np.argsort(flat, kind="stable")  # stable: accounts ascending within a territory
    acc = acc[order]
    keep = np.ones(acc.shape[0], dtype=bool)  # a repeated candidate is adjacent: drop it
    keep[1:] = (acc[1:] != acc[:-1]) | (flat[order][1:] != flat[order][:-1])
    acc, terr = acc[keep], flat[order][keep]
    bounds = np.searchsorted(terr, np.arange(prob.p + 1))
    return [acc[bounds[t] : bounds[t + 1]] for t in range(prob.p)]


def _chain(
    prob: Problem,
    start: int,
    is_goal: NDArray[np.bool_],
    pushing: bool,
    by_cand: list[IntArray],
    banned: frozenset[tuple[int, int]] = frozenset(),
) -> list[int] | None:
    """Dijkstra from ``start``; returns the territory path to the cheapest goal territory.

    Edges in ``banned`` (as ``(from, to)`` in search order) are not used.
    """
    dist = np.full(prob.p, np.inf)
    prev = np.full(prob.p, -1, dtype=np.int64)
    dist[start] = 0.0
    heap: list[tuple[float, int]] = [(0.0, start)]
    done = np.zeros(prob.p, dtype=bool)
    while heap:
        d, x = heapq.heappop(heap)
        if done[x]:
            continue
        done[x] = True
        if x != start and is_goal[x]:
            path = [x]
            while path[-1] != start:
                path.append(int(prev[path[-1]]))
            return path[::-1]
        edges = _out_edges(prob, x) if pushing else _in_edges(prob, x, by_cand)
        for a, b in banned:
            if a == x:
                edges[b] = np.inf
        nd = d + np.maximum(edges, 0.0) + _HOP
        better = np.flatnonzero((nd < dist) & ~done)
        for y in better:
            dist[y] = nd[y]
            prev[y] = x
            heapq.heappush(heap, (float(nd[y]), int(y)))
    return None


def _select(
    prob: Problem, src: int, dst: int, desired: float, omin: float, omax: float, slack: float
) -> IntArray | None:
    """Pick accounts of ``src`` that may go to ``dst`` with total workload in ``[omin, omax]``.

    Cheapest per-unit cost increase first, skipping any account that would overshoot
    ``desired`` by more than ``slack`` (or ``omax``): a big account moved to fix a small
    excess only moves the problem.

    Returns:
        The chosen account indices, or ``None`` when no such set was found.
    """
    if omax < max(omin, 0.0):
        return None
    idx = _members(prob, src)
    idx = idx[(prob.cand[idx] == dst).any(axis=1)]
    if idx.shape[0] == 0:
        return None
    delta = prob.unit_cost(idx, np.full(idx.shape[0], dst)) - prob.unit_cost(
        idx, np.full(idx.shape[0], src)
    )
    order = idx[np.argsort(delta, kind="stable")]
    cap = min(omax, max(desired, omin) + slack)
    goal = max(desired, omin)
    total = 0.0
    chosen: list[int] = []
    for i, wi in zip(order.tolist(), prob.w[order].tolist(), strict=True):
        if total + wi <= cap:
            chosen.append(i)
            total += wi
            if total >= goal - 0.25 * slack and total >= omin:
                break
    if total < omin - 1e-12 or not chosen:
        return None
    return np.asarray(chosen, dtype=np.int64)


def _push_chain(
    prob: Problem,
    v: int,
    pushing: bool,
    amount: float,
    room: float,
    load: FloatArray,
    band: tuple[float, float],
    slack: float,
    by_cand: list[IntArray],
) -> bool:
    """Move about ``amount`` out of (into) ``v`` along the cheapest chain to a territory
    with ``room`` to spare (surplus to give).

    The chain is accepted only if every territory it touches ends inside ``band``; otherwise
    every move is undone and ``False`` returned.
    """
    lo, hi = band
    act = prob.active
    goal = act & ((load + room <= hi) if pushing else (load - room >= lo))
    goal[v] = False
    if not goal.any():
        return False
    banned: set[tuple[int, int]] = set()
    for _ in range(_CHAIN_ATTEMPTS):
        path = _chain(prob, v, goal, pushing, by_cand, frozenset(banned))
        if path is None:
            return False
        failed = _apply_chain(prob, path, pushing, amount, load, band, slack)
        if failed is None:
            return True
        banned.add(failed)
    return False


_CHAIN_ATTEMPTS = 4
"""Chains tried per territory and amount: after a failed hop the search runs again without
it (the cheapest chain often runs through territories already at the band's edge, while a
slightly dearer neighbour has room)."""


def _apply_chain(
    prob: Problem,
    path: list[int],
    pushing: bool,
    amount: float,
    load: FloatArray,
    band: tuple[float, float],
    slack: float,
) -> tuple[int, int] | None:
    """Move accounts along ``path``; on failure undo everything and return the search edge
    whose hop could not be built."""
    lo, hi = band
    hops = list(itertools.pairwise(path))
    if not pushing:  # path runs v <- ... <- u; accounts flow from u towards v
        hops = [(b, a) for a, b in reversed(hops)]
    undo: list[tuple[IntArray, int]] = []
    received = 0.0
    for h, (x, y) in enumerate(hops):
        cur = load[x] + received
        omin, omax = cur - hi, cur - lo
        desired = amount if h == 0 else received
        if h == len(hops) - 1:
            omax = min(omax, hi - load[y])
            if not pushing:
                omin = max(omin, lo - load[y])
        chosen = _select(prob, x, y, desired, omin, omax, slack)
        if chosen is None:
            for back, src in reversed(undo):
                prob.terr[back] = src
            return (x, y) if pushing else (y, x)
        prob.terr[chosen] = y
        undo.append((chosen, x))
        received = float(prob.w[chosen].sum())
    return None


def repair_balance(
    prob: Problem,
    lo: float,
    hi: float,
    max_rounds: int | None = None,
    overshoot: float = 0.5,
) -> bool:
    """Move accounts along cheapest chains until every active territory is in ``[lo, hi]``.

    Each chain is accepted only if every territory it touches ends inside the band (the
    starting one included), so every accepted chain is progress; a chain that cannot be
    built is undone and its territory set aside until another chain changes the picture.

    Args:
        prob: The problem; ``prob.terr`` is repaired in place.
        lo: Lower workload bound of every active territory.
        hi: Upper workload bound.
        max_rounds: Chains to try at most (default grows with the territory count).
        overshoot: How far past the violated bound a territory is pushed, as a share of the
            half band: 0.5 lands it halfway to the mean (design: robust to later edits),
            small values move as little workload as possible (realignment). When no chain
            can carry that much, the bare excess is tried.

    Returns:
        Whether every active territory ended inside the band.
    """
    by_cand = candidates_index(prob)
    mean = 0.5 * (lo + hi)
    slack = 0.5 * (hi - mean)
    rounds = max_rounds if max_rounds is not None else 60 + 6 * prob.p
    act = prob.active
    stuck: set[tuple[int, bool]] = set()
    for _ in range(rounds):
        load = prob.loads()
        over = np.where(act, load - hi, -np.inf)
        under = np.where(act, lo - load, -np.inf)
        for v, push in stuck:
            (over if push else under)[v] = -np.inf
        if max(over.max(), under.max()) <= 1e-9:
            break
        pushing = bool(over.max() >= under.max())
        v = int(np.argmax(over if pushing else under))
        excess = float(over[v] if pushing else under[v])
        margin = overshoot * (hi - mean)
        bare = excess + min(margin, 0.05 * slack)
        done = False
        for amount, room in dict.fromkeys(
            ((excess + margin, excess + margin), (excess + margin, excess), (bare, bare))
        ):
            if _push_chain(prob, v, pushing, amount, room, load, (lo, hi), slack, by_cand):
                done = True
                break
        if done:
            stuck.clear()
        else:
            stuck.add((v, pushing))
    load = prob.loads()
    return bool(((load[act] >= lo - 1e-9) & (load[act] <= hi + 1e-9)).all())


def improve(prob: Problem, lo: float, hi: float, rounds: int = 2) -> int:
    """Single-account moves that lower cost and keep both territories in ``[lo, hi]``.

    Returns:
        Number of accounts moved.
    """
    moved = 0
    for _ in range(rounds):
        idx = np.flatnonzero(~prob.fixed & prob.active[prob.terr])
        k = prob.cand.shape[1]
        here = prob.unit_cost(idx, prob.terr[idx])
        there = prob.unit_cost(np.repeat(idx, k), prob.cand[idx].ravel()).reshape(-1, k)
        c_best = np.argmin(there, axis=1)
        gain = (here - there[np.arange(idx.shape[0]), c_best]) * prob.w[idx]
        todo = np.flatnonzero(gain > 1e-6)
        if todo.shape[0] == 0:
            break
        todo = todo[np.argsort(-gain[todo])]
        load = prob.loads()
        round_moves = 0
        for j in todo:
            i = int(idx[j])
            src = int(prob.terr[i])
            dst = int(prob.cand[i, c_best[j]])
            wi = prob.w[i]
            if dst == src or load[src] - wi < lo or load[dst] + wi > hi:
                continue
            prob.terr[i] = dst
            load[src] -= wi
            load[dst] += wi
            round_moves += 1
        moved += round_moves
        if round_moves == 0:
            break
    return moved


def balance_potential(
    prob: Problem,
    lo: float,
    hi: float,
    plo: float,
    phi: float,
    max_rounds: int | None = None,
    cheap_first: bool = False,
) -> bool:
    """Bring potential into ``[plo, phi]`` by moves and swaps that keep workload in band.

    Each round takes the territory furthest outside the potential band and, among its
    neighbours, the single move or pair swap that transfers the most useful potential at the
    least drive-time increase, never pushing workload out of ``[lo, hi]``. With
    ``cheap_first`` (realignment) it instead takes the option with the least cost per unit
    of useful potential, where cost includes the churn price: accounts that move anyway
    (orphaned, new) are traded before settled ones.

    Returns:
        Whether every active territory's potential ended inside the band.
    """
    act = prob.active
    rounds = max_rounds if max_rounds is not None else 20 * prob.p + 200
    by_cand = candidates_index(prob)
    stuck: set[int] = set()
    for _ in range(rounds):
        load, pot = prob.loads(), prob.potentials()
        viol = np.where(act, np.maximum(pot - phi, plo - pot), -np.inf)
        for s in stuck:
            viol[s] = -np.inf
        v = int(np.argmax(viol))
        if viol[v] <= 1e-9:
            break
        sign = 1.0 if pot[v] > phi else -1.0  # +1: v must shed potential
        need = float(viol[v]) + 0.3 * (phi - plo) / 2
        # Accounts of v that may go to a neighbour, and neighbours' accounts that may come in.
        out_idx = _members(prob, v)
        in_idx = by_cand[v]
        in_idx = in_idx[(prob.terr[in_idx] != v) & ~prob.fixed[in_idx] & act[prob.terr[in_idx]]]
        # (-useful, cost, a, b, y), or (cost per useful, -useful, a, b, y) with cheap_first
        best: tuple[float, float, int, int, int] | None = None
        neighbours = np.unique(prob.terr[in_idx])
        out_cand = prob.cand[out_idx]
        in_terr = prob.terr[in_idx]
        for y in neighbours.tolist():
            a_set = out_idx[(out_cand == y).any(axis=1)]
            b_set = in_idx[in_terr == y]
            if a_set.shape[0] == 0 and b_set.shape[0] == 0:
                continue
            # Keep the most promising few on each side: high potential per workload leaves
            # the rich side, low potential per workload comes back.
            ra = sign * prob.pot[a_set] / np.maximum(prob.w[a_set], 1e-9)
            a_set = a_set[np.argsort(-ra)[:25]]
            rb = sign * prob.pot[b_set] / np.maximum(prob.w[b_set], 1e-9)
            b_set = b_set[np.argsort(rb)[:25]]
            # Options: move a (rows) and/or b (columns); the last row / column is "none".
            wa = np.append(prob.w[a_set], 0.0)
            wb = np.append(prob.w[b_set], 0.0)
            pa = np.append(prob.pot[a_set], 0.0)
            pb = np.append(prob.pot[b_set], 0.0)
            ca = np.append(_move_cost(prob, a_set, v, y), 0.0)
            cb = np.append(_move_cost(prob, b_set, y, v), 0.0)
            lv = load[v] - wa[:, None] + wb[None, :]
            ly = load[y] + wa[:, None] - wb[None, :]
            transfer = sign * (pa[:, None] - pb[None, :])  # potential leaving v
            py_new = pot[y] + sign * transfer
            ok = (lv >= lo) & (lv <= hi) & (ly >= lo) & (ly <= hi) & (transfer > 0)
            ok &= (py_new <= phi) & (py_new >= plo)
            ok[-1, -1] = False
            if not ok.any():
                continue
            useful = np.minimum(transfer, need) - np.maximum(transfer - 2 * need, 0.0)
            cost = ca[:, None] + cb[None, :]
            if cheap_first:
                good = ok & (useful > 1e-9 * max(need, 1e-9))
                if not good.any():
                    continue
                per = np.where(good, cost / np.maximum(useful, 1e-12), np.inf)
                j = int(np.argmin(per))
                key = (float(per.flat[j]), -float(useful.flat[j]))
            else:
                score = np.where(ok, useful, -np.inf)
                top = float(score.max())
                pick = np.flatnonzero(ok & (score >= top - 1e-3 * abs(top)))
                j = int(pick[np.argmin(cost.flat[pick])])
                key = (-top, float(cost.flat[j]))
            ia, ib = divmod(j, wb.shape[0])
            a = int(a_set[ia]) if ia < a_set.shape[0] else -1
            b = int(b_set[ib]) if ib < b_set.shape[0] else -1
            cand_best = (*key, a, b, y)
            if best is None or cand_best < best:
                best = cand_best
        if best is None:
            stuck.add(v)
            continue
        _, _, a, b, y = best
        if a >= 0:
            prob.terr[a] = y
        if b >= 0:
            prob.terr[b] = v
    pot = prob.potentials()
    return bool(((pot[act] >= plo - 1e-9) & (pot[act] <= phi + 1e-9)).all())


def _move_cost(prob: Problem, idx: IntArray, src: int, dst: int) -> FloatArray:
    """Cost increase of moving accounts ``idx`` from ``src`` to ``dst`` (their workload
    times the per-unit cost difference, churn price included)."""
    to = prob.unit_cost(idx, np.full(idx.shape[0], dst, dtype=np.int64))
    back = prob.unit_cost(idx, np.full(idx.shape[0], src, dtype=np.int64))
    out: FloatArray = (to - back) * prob.w[idx]
    return out


def move_counts(prob: Problem) -> tuple[IntArray, IntArray]:
    """Moved accounts (that had a present rep) and, per territory, accounts gained + lost."""
    moved = np.flatnonzero((prob.orig >= 0) & (prob.terr != prob.orig))
    per = np.bincount(prob.terr[moved], minlength=prob.p) + np.bincount(
        prob.orig[moved], minlength=prob.p
    )
    return moved, per.astype(np.int64)


def revert_moves(
    prob: Problem,
    lo: float,
    hi: float,
    cap_total: int,
    cap_per_rep: int | None,
    keep_balance: bool = True,
) -> bool:
    """Send moved accounts back to their current rep until the move limits hold.

    Reverts the moves that help least first (smallest cost saving); with ``keep_balance``
    only reverts that keep both territories inside ``[lo, hi]``.

    Returns:
        Whether both limits hold afterwards.
    """
    moved, per = move_counts(prob)
    rep_cap = cap_per_rep if cap_per_rep is not None else np.iinfo(np.int64).max
    if moved.shape[0] <= cap_total and (per <= rep_cap).all():
        return True
    saving = (prob.unit_cost(moved, prob.orig[moved]) - prob.unit_cost(moved, prob.terr[moved])) * (
        prob.w[moved]
    )
    load = prob.loads()
    total = moved.shape[0]
    for i in moved[np.argsort(saving, kind="stable")].tolist():
        if total <= cap_total and (per <= rep_cap).all():
            break
        src, dst = int(prob.terr[i]), int(prob.orig[i])
        if total <= cap_total and per[src] <= rep_cap and per[dst] <= rep_cap:
            continue
        wi = float(prob.w[i])
        if keep_balance and (load[src] - wi < lo or load[dst] + wi > hi):
            continue
        prob.terr[i] = dst
        load[src] -= wi
        load[dst] += wi
        per[src] -= 1
        per[dst] -= 1
        total -= 1
    return bool(total <= cap_total and (per <= rep_cap).all())
