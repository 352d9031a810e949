"""Territory design: balance guarantee, locks, dispersion, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from routing.territories import (
    DesignParams,
    InfeasibleBalanceError,
    InvalidTerritoryInputError,
    MissingHomeError,
    StraightLineOracle,
    TerritoryAccount,
    TerritoryRep,
    compute_kpis,
    design_territories,
    synthetic_instance,
    workload_hours,
)
from routing.territories.baselines import weighted_kmeans_plan

ORACLE = StraightLineOracle()


def _loads(plan_rep_of: dict[str, str], accounts: list[TerritoryAccount]) -> dict[str, float]:
    out: dict[str, float] = {}
    for a in accounts:
        out[plan_rep_of[a.id]] = out.get(plan_rep_of[a.id], 0.0) + a.workload_hours
    return out


@pytest.mark.parametrize(
    ("n", "p", "seed", "town_share"),
    [
        (300, 5, 0, 0.5),
        (1000, 10, 1, 0.3),
        (1000, 10, 2, 0.7),
        (2000, 20, 3, 0.0),
        (600, 30, 4, 0.5),
    ],
)
def test_every_territory_within_tolerance(n: int, p: int, seed: int, town_share: float) -> None:
    """Every territory's workload is within ±5 % of the mean: a guarantee, not a penalty."""
    accounts, reps = synthetic_instance(n, p, seed=seed, town_share=town_share)
    plan = design_territories(accounts, reps, ORACLE, DesignParams(seed=seed))
    assert set(plan.rep_of) == {a.id for a in accounts}
    loads = np.array(list(_loads(plan.rep_of, accounts).values()))
    assert loads.shape[0] == p
    assert np.abs(loads / loads.mean() - 1).max() <= 0.05 + 1e-9
    assert plan.kpis is not None
    assert plan.kpis.workload_max_deviation <= 0.05 + 1e-9


def test_tighter_balance_with_many_accounts_per_territory() -> None:
    """With 100+ accounts per territory the aim band (±3 %) is reached."""
    accounts, reps = synthetic_instance(1500, 10, seed=7, town_share=0.3)
    plan = design_territories(accounts, reps, ORACLE)
    assert plan.kpis is not None
    assert plan.kpis.workload_max_deviation <= 0.03 + 1e-9


def test_same_seed_same_plan() -> None:
    """The design is deterministic for a given input and seed."""
    accounts, reps = synthetic_instance(500, 6, seed=11)
    a = design_territories(accounts, reps, ORACLE)
    b = design_territories(accounts, reps, ORACLE)
    assert a.rep_of == b.rep_of


def test_dispersion_close_to_weighted_kmeans() -> None:
    """Balanced plan's dispersion is within 10 % of unbalanced weighted k-means (uniform data)."""
    accounts, reps = synthetic_instance(2000, 10, seed=3, town_share=0.0)
    plan = design_territories(accounts, reps, ORACLE)
    km = compute_kpis(accounts, reps, weighted_kmeans_plan(accounts, reps), ORACLE)
    assert plan.kpis is not None
    assert plan.kpis.dispersion_seconds <= 1.10 * km.dispersion_seconds


def test_territories_are_compact() -> None:
    """Neighbours mostly share a territory and hulls barely overlap."""
    accounts, reps = synthetic_instance(2000, 10, seed=5, town_share=0.3)
    plan = design_territories(accounts, reps, ORACLE)
    assert plan.kpis is not None
    assert plan.kpis.contiguity >= 0.85
    assert plan.kpis.hull_overlap <= 0.25


def test_locked_accounts_stay_with_their_rep() -> None:
    """Accounts locked to a rep end with that rep, even far from the rep's natural area."""
    accounts, reps = synthetic_instance(800, 8, seed=2)
    locked = {accounts[i].id: reps[i % 3].id for i in range(0, 800, 37)}
    accounts = [
        TerritoryAccount(a.id, a.lat, a.lon, a.workload_hours, a.potential, locked.get(a.id))
        for a in accounts
    ]
    plan = design_territories(accounts, reps, ORACLE)
    for aid, rep in locked.items():
        assert plan.rep_of[aid] == rep
    assert plan.kpis is not None and plan.kpis.workload_max_deviation <= 0.05 + 1e-9


def test_locked_rep_keeps_only_locked_accounts_and_is_left_out_of_balance() -> None:
    """A locked rep owns exactly the accounts locked to them; the others are balanced."""
    accounts, reps = synthetic_instance(600, 6, seed=4)
    reps = [TerritoryRep(r.id, r.lat, r.lon, locked=(r.id == "r0")) for r in reps]
    mine = {a.id for a in accounts[:5]}
    accounts = [
        TerritoryAccount(
            a.id, a.lat, a.lon, a.workload_hours, a.potential, "r0" if a.id in mine else None
        )
        for a in accounts
    ]
    plan = design_territories(accounts, reps, ORACLE)
    assert {a for a, r in plan.rep_of.items() if r == "r0"} == mine
    loads = _loads(plan.rep_of, accounts)
    others = np.array([v for r, v in loads.items() if r != "r0"])
    assert np.abs(others / others.mean() - 1).max() <= 0.05 + 1e-9


def test_infeasible_tolerance_names_territory_deviation_and_closest_plan() -> None:
    """One huge account cannot fit in ±5 %: the error says where, by how much, and offers a plan."""
    accounts, reps = synthetic_instance(200, 4, seed=1)
    total = sum(a.workload_hours for a in accounts)
    big = TerritoryAccount("whale", accounts[0].lat, accounts[0].lon, total / 2, 1.0)
    with pytest.raises(InfeasibleBalanceError) as info:
        design_territories([*accounts, big], reps, ORACLE)
    err = info.value
    assert err.territory in {r.id for r in reps}
    assert err.deviation > 0.05
    assert set(err.closest_plan.rep_of) == {a.id for a in accounts} | {"whale"}
    assert err.closest_plan.rep_of["whale"] == err.territory


def test_fewer_accounts_than_reps() -> None:
    """Three accounts cannot fill five territories."""
    accounts, reps = synthetic_instance(3, 5, seed=0)
    with pytest.raises(InvalidTerritoryInputError, match="3 accounts cannot fill 5 territories"):
        design_territories(accounts, reps, ORACLE)


def test_rep_without_home() -> None:
    """A rep with no home base is rejected by id."""
    accounts, reps = synthetic_instance(50, 2, seed=0)
    with pytest.raises(MissingHomeError) as info:
        design_territories(accounts, [reps[0], TerritoryRep("nohome", None, None)], ORACLE)
    assert info.value.rep_id == "nohome"


def test_anchor_home_keeps_balance() -> None:
    """Anchoring territories at homes still balances workload."""
    accounts, reps = synthetic_instance(600, 6, seed=8)
    plan = design_territories(accounts, reps, ORACLE, DesignParams(anchor="home"))
    assert plan.kpis is not None and plan.kpis.workload_max_deviation <= 0.05 + 1e-9


def test_workload_hours_from_cadence() -> None:
    """Twelve visits of 45 min on site plus 15 min driving take 12 hours a year."""
    assert workload_hours(12, 45, 15) == pytest.approx(12.0)
    with pytest.raises(ValueError, match="non-negative"):
        workload_hours(-1, 45, 15)
