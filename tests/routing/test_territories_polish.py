"""Swap polish after balancing: it lowers cost only by moves that keep both bands."""

from __future__ import annotations

import numpy as np

from routing.territories._polish import polish
from routing.territories._problem import Problem


def _problem(cost: list[list[float]], terr: list[int], w: list[float], pot: list[float]) -> Problem:
    c = np.asarray(cost, dtype=np.float32)
    n = c.shape[1]
    prob = Problem(
        w=np.asarray(w, dtype=np.float64),
        pot=np.asarray(pot, dtype=np.float64),
        cost=c,
        active=np.ones(c.shape[0], dtype=bool),
        fixed=np.zeros(n, dtype=bool),
        orig=np.full(n, -1, dtype=np.int64),
        pen=np.zeros(n),
        cand=np.zeros((n, 1), dtype=np.int64),
        terr=np.asarray(terr, dtype=np.int64),
    )
    prob.refresh_candidates(2)
    return prob


def _total(prob: Problem) -> float:
    return float((prob.cost[prob.terr, np.arange(prob.n)] * prob.w).sum())


def test_swap_where_single_moves_are_blocked_by_the_band() -> None:
    """Accounts 1 and 2 sit in each other's territory; both loads are at the band's edge,
    so neither can move alone, but swapping them keeps the loads and lowers cost."""
    prob = _problem(
        cost=[[0, 100, 0, 100], [100, 10, 10, 0]],
        terr=[0, 0, 1, 1],
        w=[1, 1, 1, 1],
        pot=[1, 1, 1, 1],
    )
    change = polish(prob, (2.0, 2.0), (-np.inf, np.inf))
    assert prob.terr.tolist() == [0, 1, 0, 1]
    assert change < 0


def test_no_swap_that_breaks_the_potential_band() -> None:
    """The same swap would move potential 5 against 1 and leave territory 0 outside
    its potential band, so nothing moves."""
    prob = _problem(
        cost=[[0, 100, 0, 100], [100, 10, 10, 0]],
        terr=[0, 0, 1, 1],
        w=[1, 1, 1, 1],
        pot=[3, 1, 5, 3],
    )
    before = prob.terr.copy()
    assert polish(prob, (2.0, 2.0), (3.0, 7.0)) == 0.0
    assert np.array_equal(prob.terr, before)


def test_random_plans_only_get_cheaper_and_stay_in_band() -> None:
    """On random instances the polished plan costs no more, and no territory leaves (or
    moves further outside) the workload and potential bands."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        p, n = int(rng.integers(2, 6)), int(rng.integers(20, 80))
        cost = rng.uniform(0, 1000, size=(p, n))
        w = rng.uniform(0.5, 2.0, size=n)
        pot = rng.lognormal(0, 0.8, size=n)
        prob = _problem(cost.tolist(), rng.integers(0, p, n).tolist(), w.tolist(), pot.tolist())
        prob.refresh_candidates(p)
        load0, pot0 = prob.loads(), prob.potentials()
        band = (0.9 * load0.mean(), 1.1 * load0.mean())
        p_band = (0.8 * pot0.mean(), 1.2 * pot0.mean())
        before = _total(prob)
        polish(prob, band, p_band)
        assert _total(prob) <= before + 1e-6
        load, pots = prob.loads(), prob.potentials()
        assert (load >= np.minimum(band[0], load0) - 1e-9).all()
        assert (load <= np.maximum(band[1], load0) + 1e-9).all()
        assert (pots >= np.minimum(p_band[0], pot0) - 1e-9).all()
        assert (pots <= np.maximum(p_band[1], pot0) + 1e-9).all()
