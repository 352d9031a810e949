"""The assignment step as a min-cost flow with workload bounds (OR-Tools).

Each movable account supplies its (integer-scaled) workload; arcs go only to its ``k``
nearest centres (plus its current territory in realignment), so the model has ``n * (k+1)``
arcs instead of ``n * p``. Each territory must absorb at least ``lo`` and at most ``hi``.
A vertex solution splits only a handful of accounts; each goes to its largest share and the
repair pass fixes what rounding broke.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from ortools.graph.python import min_cost_flow

from routing.territories._problem import Problem

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

_TOTAL_UNITS = 2.0e6  # total scaled workload: ~1 % resolution at 100k accounts, fast solves


def assign_by_flow(prob: Problem, lo: float | FloatArray, hi: float | FloatArray) -> bool:
    """Solve the bounded transportation problem and write the rounded result to ``prob.terr``.

    Args:
        prob: Problem with ``cost``, ``cand`` and ``fixed`` set; fixed accounts keep
            ``prob.terr`` and their load is taken off the bounds of their territory.
        lo: Lower workload bound per active territory (scalar or one per territory).
        hi: Upper workload bound per active territory (scalar or one per territory).

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
    extra = np.where((orig >= 0) & prob.active[np.maximum(orig, 0)], orig, cand[:, 0])
    heads = np.column_stack((cand, extra))  # (m, k+1) territory per arc
    m, arcs_per = heads.shape
    tails = np.repeat(np.arange(m, dtype=np.int64), arcs_per)
    flat_heads = heads.ravel()
    unit = prob.unit_cost(np.repeat(mov, arcs_per), flat_heads)
    unit_int = np.rint(unit).astype(np.int64)

    smcf = min_cost_flow.SimpleMinCostFlow()
    node_of_terr = m + np.arange(p, dtype=np.int64)
    sink = m + p
    smcf.add_arcs_with_capacity_and_unit_cost(
        tails, node_of_terr[flat_heads], np.repeat(supply, arcs_per), unit_int
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
    flows = np.asarray(smcf.flows(np.arange(m * arcs_per, dtype=np.int64))).reshape(m, arcs_per)
    best = np.argmax(flows, axis=1)
    prob.terr[mov] = heads[np.arange(m), best]
    return True


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
