"""The assignment step as a min-cost flow with workload bounds (OR-Tools).

Each movable account supplies its (integer-scaled) workload; arcs go only to its ``k``
nearest centres (plus its current territory in realignment, and a few wider arcs the caller
asks for), so the model has about ``n * (k+1)`` arcs instead of ``n * p``. Each territory
must absorb at least ``lo`` and at most ``hi``. A vertex solution splits only a handful of
accounts; they are rounded so that loads stay near the flow's and the repair pass fixes
what rounding broke.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from routing.territories._problem import Problem

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

_TOTAL_UNITS = 2.0e6  # total scaled workload: ~1 % resolution at 100k accounts, fast solves


def assign_by_flow(
    prob: Problem,
    lo: float | FloatArray,
    hi: float | FloatArray,
    extra: tuple[IntArray, IntArray] | None = None,
) -> bool:
    """Solve the bounded transportation problem and write the rounded result to ``prob.terr``.

    Args:
        prob: Problem with ``cost``, ``cand`` and ``fixed`` set; fixed accounts keep
            ``prob.terr`` and their load is taken off the bounds of their territory.
        lo: Lower workload bound per active territory (scalar or one per territory).
        hi: Upper workload bound per active territory (scalar or one per territory).
        extra: More arcs on top of ``prob.cand``, as ``(accounts, territories)`` pairs
            (realignment lets orphaned and new accounts, and the accounts around a rep who
            joins, reach a ring further instead of pushing a cascade of settled accounts).
            Arcs of fixed accounts or to inactive territories are ignored.

    Returns:
        ``False`` when the flow model is infeasible (bounds too tight for the candidate arcs);
        ``prob.terr`` is then unchanged.
    """
    mov = np.flatnonzero(~prob.fixed)
    if mov.shape[0] == 0:
        return True
    p = prob.p
    act = np.flatnonzero(prob.active)
    fixed_load = np.bincount(prob.terr[prob.fixed], weights=prob.w[prob.fixed], minlength=p)
    scale = _TOTAL_UNITS / max(float(prob.w[mov].sum()), 1e-12)
    supply = np.maximum(1, np.rint(prob.w[mov] * scale)).astype(np.int64)

    orig = prob.orig[mov]
    cand = prob.cand[mov]
    home = np.where((orig >= 0) & prob.active[np.maximum(orig, 0)], orig, cand[:, 0])
    heads = np.column_stack((cand, home))  # (m, k+1) territory per arc
    m, arcs_per = heads.shape
    tails = np.repeat(np.arange(m, dtype=np.int64), arcs_per)
    flat_heads = heads.ravel()
    n_base = tails.shape[0]
    if extra is not None and extra[0].shape[0]:
        local_of = np.full(prob.n, -1, dtype=np.int64)
        local_of[mov] = np.arange(m)
        e_tail = local_of[extra[0]]
        keep = (e_tail >= 0) & prob.active[extra[1]]
        tails = np.concatenate((tails, e_tail[keep]))
        flat_heads = np.concatenate((flat_heads, extra[1][keep].astype(np.int64)))
    unit = prob.unit_cost(mov[tails], flat_heads)
    unit_int = np.rint(unit).astype(np.int64)

    smcf = min_cost_flow.SimpleMinCostFlow()
    node_of_terr = m + np.arange(p, dtype=np.int64)
    sink = m + p
    smcf.add_arcs_with_capacity_and_unit_cost(
        tails, node_of_terr[flat_heads], supply[tails], unit_int
    )
    lo_int = np.zeros(p, dtype=np.int64)
    hi_int = np.zeros(p, dtype=np.int64)
    lo_t = np.broadcast_to(np.asarray(lo, dtype=np.float64), (p,))[act]
    hi_t = np.broadcast_to(np.asarray(hi, dtype=np.float64), (p,))[act]
    lo_int[act] = np.maximum(0, np.ceil((lo_t - fixed_load[act]) * scale)).astype(np.int64)
    hi_int[act] = np.floor((hi_t - fixed_load[act]) * scale).astype(np.int64)
    if (hi_int[act] < lo_int[act]).any():
        return False
    smcf.add_arcs_with_capacity_and_unit_cost(
        node_of_terr[act],
        np.full(act.shape[0], sink, dtype=np.int64),
        hi_int[act] - lo_int[act],
        np.zeros(act.shape[0], dtype=np.int64),
    )
    supplies = np.concatenate((supply, -lo_int, [0])).astype(np.int64)
    supplies[sink] = -(int(supply.sum()) - int(lo_int.sum()))
    if supplies[sink] > 0:
        return False
    smcf.set_nodes_supplies(np.arange(m + p + 1, dtype=np.int64), supplies)
    status = smcf.solve()
    if status != smcf.OPTIMAL:
        return False
    flows = np.asarray(smcf.flows(np.arange(tails.shape[0], dtype=np.int64)))
    # Each account goes to the arc carrying most of its flow (the nearest on ties).
    base = flows[: m * arcs_per].reshape(m, arcs_per)
    pick = np.argmax(base, axis=1)
    best_flow = base[np.arange(m), pick]
    choice = heads[np.arange(m), pick]
    if tails.shape[0] > n_base:
        e_flow, e_tail, e_head = flows[n_base:], tails[n_base:], flat_heads[n_base:]
        order = np.lexsort((-e_flow, e_tail))
        first = order[np.unique(e_tail[order], return_index=True)[1]]
        better = e_flow[first] > best_flow[e_tail[first]]
        choice[e_tail[first[better]]] = e_head[first[better]]
        best_flow[e_tail[first[better]]] = e_flow[first[better]]
    split = np.flatnonzero(best_flow < supply)
    if split.shape[0]:
        _round_split(tails, flat_heads, flows, supply, split, choice, p)
    prob.terr[mov] = choice
    return True


def _round_split(
    tails: IntArray,
    heads: IntArray,
    flows: IntArray,
    supply: IntArray,
    split: IntArray,
    choice: IntArray,
    p: int,
) -> None:
    """Round the accounts the flow split between territories, keeping loads near the flow's.

    A vertex solution splits at most about one account per territory. Largest first, each
    goes to the territory (among those receiving a quarter of it or more; a sliver may be a
    far territory) with the most room for it: the load the flow gave that territory, minus
    what it already holds, minus the shares other split accounts still bring it. Counting the
    shares still to come is what keeps a territory that receives slices of several split
    accounts from taking all of them whole (it overshot by two accounts before).
    """
    target = np.bincount(heads, weights=flows, minlength=p)
    whole = np.ones(choice.shape[0], dtype=bool)
    whole[split] = False
    have = np.bincount(choice[whole], weights=supply[whole], minlength=p)
    is_split = ~whole
    on_split = is_split[tails]
    pending = np.bincount(heads[on_split], weights=flows[on_split], minlength=p)
    order = np.argsort(tails[on_split], kind="stable")
    a_tail, a_head, a_flow = tails[on_split][order], heads[on_split][order], flows[on_split][order]
    starts = np.searchsorted(a_tail, split)
    ends = np.searchsorted(a_tail, split, side="right")
    for r in np.argsort(-supply[split], kind="stable").tolist():
        a = int(split[r])
        own = np.bincount(
            a_head[starts[r] : ends[r]], weights=a_flow[starts[r] : ends[r]], minlength=p
        )
        pending -= own
        opts = np.flatnonzero(4 * own >= supply[a])  # shares of a quarter or more
        if opts.shape[0] == 0:
            opts = np.array([int(np.argmax(own))])
        room = target[opts] - have[opts] - pending[opts]
        j = int(opts[np.argmax(room)])
        choice[a] = j
        have[j] += supply[a]


def assign_by_prices(
    prob: Problem, lo: float, hi: float, prices: FloatArray, iters: int = 40
) -> FloatArray:
    """Approximate balanced assignment by territory prices (Lagrangian dual ascent).

    Each account goes to the candidate minimising ``cost - price``; prices rise where a
    territory is under-loaded and fall where it is over-loaded. Far cheaper than the flow at
    100k accounts and whole (no split accounts), so the location-allocation rounds use it
    and the final round uses the exact flow.

    Args:
        prob: Problem with ``cost`` and ``cand``; fixed accounts keep ``terr``.
        lo: Lower workload bound.
        hi: Upper workload bound.
        prices: Starting prices (seconds per workload unit), updated copy returned.
        iters: Ascent steps.

    Returns:
        The final prices (warm start for the next round).
    """
    mov = np.flatnonzero(~prob.fixed)
    cand = prob.cand[mov]
    cc = prob.cost[cand, mov[:, None]].astype(np.float64)
    fixed_load = np.bincount(prob.terr[prob.fixed], weights=prob.w[prob.fixed], minlength=prob.p)
    w = prob.w[mov]
    mean = 0.5 * (lo + hi)
    gap = np.median(cc[:, 1] - cc[:, 0]) if cc.shape[1] > 1 else 60.0
    step = max(float(gap), 1.0) * 2.0
    price = prices.copy()
    rows = np.arange(mov.shape[0])
    for it in range(iters):
        pick = cand[rows, np.argmin(cc - price[cand], axis=1)]
        load = np.bincount(pick, weights=w, minlength=prob.p) + fixed_load
        dev = (mean - load) / mean
        dev[~prob.active] = 0.0
        if (load[prob.active] >= lo).all() and (load[prob.active] <= hi).all():
            break
        price += step * dev / (1.0 + 0.1 * it)
    prob.terr[mov] = cand[rows, np.argmin(cc - price[cand], axis=1)]
    return price
