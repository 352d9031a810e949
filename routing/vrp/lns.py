"""Ruin-and-recreate improvement on top of OR-Tools' guided local search.

Guided local search alone stalls on long routes with wide windows (RC208, R201: 5-10 % above
best-known after 10 s) because its moves are small. This layer takes the best plan, *ruins* a
spatially related part of it (strings of consecutive stops around a random seed stop, in the
spirit of SISR, Christiaens & Vanden Berghe 2020), hands the partial plan to the same OR-Tools
model as the starting assignment (every stop is a disjunction, so a partial plan is a valid
assignment), lets local search *recreate* and polish it (insertion operators put the removed
stops back), and accepts the result by a record-to-record rule that tolerates a slowly
shrinking worsening. Random choices come from a seeded :class:`random.Random`, so a run with an
iteration limit is reproducible.
"""

from __future__ import annotations

import random
import time
from typing import Any

import numpy as np

from routing.vrp.engine import Core


def ruin(
    routes: list[list[int]],
    neighbours: np.ndarray[Any, np.dtype[np.int64]],
    rng: random.Random,
    *,
    avg_removed: int,
    max_string: int,
) -> list[list[int]]:
    """Remove strings of consecutive stops from routes near a random seed stop.

    Args:
        routes: Node sequences per vehicle.
        neighbours: Per stop node, the other stop nodes by increasing cost.
        rng: Seeded random source.
        avg_removed: Average number of stops to remove.
        max_string: Longest string removed from one route.

    Returns:
        The partial routes (the removed stops are left unplanned).
    """
    where = {node: ri for ri, r in enumerate(routes) for node in r}
    if not where:
        return routes
    target = max(1, min(len(where) // 2, int(rng.uniform(0.5, 1.5) * avg_removed)))
    seed = rng.choice(sorted(where))
    removed: set[int] = set()
    ruined_routes: set[int] = set()
    for node in [seed, *neighbours[seed].tolist()]:
        if len(removed) >= target:
            break
        ri = where.get(int(node))
        if ri is None or ri in ruined_routes:
            continue
        ruined_routes.add(ri)
        r = routes[ri]
        length = rng.randint(1, min(max_string, len(r), target - len(removed)))
        pos = r.index(int(node))
        lo = max(0, min(pos - rng.randint(0, length - 1), len(r) - length))
        removed.update(r[lo : lo + length])
    return [[n for n in r if n not in removed] for r in routes]


def improve(
    core: Core,
    assignment: Any,
    *,
    deadline: float,
    iterations: int | None,
    seed: int,
    avg_removed: int = 12,
    max_string: int = 8,
    start_threshold: float = 0.01,
) -> Any:
    """Run ruin-and-recreate from ``assignment`` until ``iterations`` or ``deadline``.

    Args:
        core: The built model.
        assignment: Starting solution.
        deadline: ``time.monotonic()`` value at which to stop regardless of iterations.
        iterations: Number of ruin-and-recreate steps (``None``: until the deadline).
        seed: Random seed.
        avg_removed: Average stops removed per step.
        max_string: Longest string removed from one route.
        start_threshold: Initial tolerated worsening, as a fraction of the best cost; it
            shrinks linearly to zero over the run (record-to-record travel).

    Returns:
        The best assignment found (``assignment`` itself when nothing improved it).
    """
    rng = random.Random(seed)
    n = core.n_stops
    if n < 3:
        return assignment
    cost = core.base_cost[:n, :n]
    neighbours = np.argsort(cost + cost.T, axis=1, kind="stable")[:, 1:].astype(np.int64)
    best = assignment
    best_cost = current_cost = core.cost_of(assignment)
    current_routes = core.node_routes(assignment)
    t0 = time.monotonic()
    k = 0
    while (iterations is None or k < iterations) and time.monotonic() < deadline:
        k += 1
        progress = (
            k / iterations if iterations else (time.monotonic() - t0) / max(1e-9, deadline - t0)
        )
        partial = ruin(
            current_routes, neighbours, rng, avg_removed=avg_removed, max_string=max_string
        )
        cand = core.solve_phase(
            phase="descent", deadline=deadline, solution_limit=None, initial=partial
        )
        if cand is None:
            continue
        c = core.cost_of(cand)
        threshold = start_threshold * (1.0 - progress) * best_cost
        if c < current_cost + threshold:
            current_cost = c
            current_routes = core.node_routes(cand)
        if c < best_cost:
            best, best_cost = cand, c
    return best


__all__ = ["improve", "ruin"]
