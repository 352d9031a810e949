"""Realignment: no churn when balanced, bounded churn on events, move limits."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from routing.territories import (
    Assignment,
    InfeasibleBalanceError,
    RealignParams,
    StraightLineOracle,
    TerritoryAccount,
    TerritoryRep,
    design_territories,
    realign_territories,
    synthetic_instance,
)

ORACLE = StraightLineOracle()


@pytest.fixture(scope="module")
def base() -> tuple[list[TerritoryAccount], list[TerritoryRep], Assignment]:
    accounts, reps = synthetic_instance(1500, 10, seed=21, town_share=0.3)
    return accounts, reps, design_territories(accounts, reps, ORACLE)


def _max_dev(plan: Assignment, accounts: list[TerritoryAccount]) -> float:
    loads: dict[str, float] = {}
    for a in accounts:
        loads[plan.rep_of[a.id]] = loads.get(plan.rep_of[a.id], 0.0) + a.workload_hours
    x = np.array(list(loads.values()))
    return float(np.abs(x / x.mean() - 1).max())


def test_nothing_moves_when_within_tolerance(base) -> None:  # type: ignore[no-untyped-def]
    """A balanced plan realigned with no events stays exactly as it is."""
    accounts, reps, plan = base
    new = realign_territories(accounts, reps, plan.rep_of, ORACLE)
    assert new.moved == []
    assert new.rep_of == plan.rep_of


def test_events_move_few_accounts(base) -> None:  # type: ignore[no-untyped-def]
    """5 % added, 5 % removed, 10 % workloads changed: at most 3 % of accounts move."""
    accounts, reps, plan = base
    rng = np.random.default_rng(1)
    n = len(accounts)
    removed = set(rng.choice(n, n // 20, replace=False).tolist())
    changed = set(rng.choice(n, n // 10, replace=False).tolist())
    extra, _ = synthetic_instance(n // 20, 10, seed=99, town_share=0.3)
    kept = [
        dataclasses.replace(a, workload_hours=a.workload_hours * float(rng.uniform(0.5, 1.5)))
        if i in changed
        else a
        for i, a in enumerate(accounts)
        if i not in removed
    ]
    after = kept + [dataclasses.replace(a, id="new-" + a.id) for a in extra]
    new = realign_territories(after, reps, plan.rep_of, ORACLE)
    assert len(new.moved) <= 0.03 * len(after)
    assert _max_dev(new, after) <= 0.05 + 1e-9
    assert all(not m.startswith("new-") for m in new.moved)
    for a in kept:
        if a.id not in new.moved:
            assert new.rep_of[a.id] == plan.rep_of[a.id]


def test_rep_leaving_moves_about_the_orphans(base) -> None:  # type: ignore[no-untyped-def]
    """When a rep leaves, moved workload stays within 1.4x the orphaned workload."""
    accounts, reps, plan = base
    gone = reps[3].id
    orphans = {a.id for a in accounts if plan.rep_of[a.id] == gone}
    orphan_w = sum(a.workload_hours for a in accounts if a.id in orphans)
    new = realign_territories(
        accounts,
        [r for r in reps if r.id != gone],
        plan.rep_of,
        ORACLE,
        RealignParams(max_moved_share=0.3),
    )
    assert orphans <= set(new.moved)
    assert gone not in new.rep_of.values()
    moved_w = sum(a.workload_hours for a in accounts if a.id in set(new.moved))
    assert moved_w <= 1.4 * orphan_w
    assert _max_dev(new, accounts) <= 0.05 + 1e-9


def test_rep_joining_gets_a_balanced_territory(base) -> None:  # type: ignore[no-untyped-def]
    """A new rep gets a full territory; moved workload stays near one territory's worth."""
    accounts, reps, plan = base
    h = reps[0]
    assert h.lat is not None and h.lon is not None
    joined = [*reps, TerritoryRep("newbie", h.lat + 0.02, h.lon + 0.02)]
    new = realign_territories(
        accounts, joined, plan.rep_of, ORACLE, RealignParams(max_moved_share=0.3)
    )
    total = sum(a.workload_hours for a in accounts)
    moved_w = sum(a.workload_hours for a in accounts if a.id in set(new.moved))
    assert "newbie" in new.rep_of.values()
    assert _max_dev(new, accounts) <= 0.05 + 1e-9
    assert moved_w <= 1.4 * total / len(joined)


def test_max_moves_respected_or_infeasible(base) -> None:  # type: ignore[no-untyped-def]
    """A move cap too small for balance raises, and the closest plan respects the cap."""
    accounts, reps, plan = base
    joined = [*reps, TerritoryRep("newbie", reps[0].lat, reps[0].lon)]
    with pytest.raises(InfeasibleBalanceError) as info:
        realign_territories(
            accounts, joined, plan.rep_of, ORACLE, RealignParams(max_moved_share=0.01)
        )
    closest = info.value.closest_plan
    assert len(closest.moved) <= 0.01 * len(accounts)
    assert info.value.territory == "newbie"
    assert info.value.deviation < -0.05


def test_per_rep_move_cap(base) -> None:  # type: ignore[no-untyped-def]
    """With a per-rep cap, no rep gains plus loses more accounts than allowed."""
    accounts, reps, plan = base
    rng = np.random.default_rng(3)
    bumped = [
        dataclasses.replace(a, workload_hours=a.workload_hours * 1.3)
        if plan.rep_of[a.id] == reps[0].id and rng.random() < 0.5
        else a
        for a in accounts
    ]
    cap = 40
    try:
        new = realign_territories(
            bumped, reps, plan.rep_of, ORACLE, RealignParams(max_moved_per_rep=cap)
        )
    except InfeasibleBalanceError as exc:
        new = exc.closest_plan
    count: dict[str, int] = {}
    for aid in new.moved:
        for r in (plan.rep_of[aid], new.rep_of[aid]):
            count[r] = count.get(r, 0) + 1
    assert max(count.values(), default=0) <= cap


def test_locked_accounts_never_move(base) -> None:  # type: ignore[no-untyped-def]
    """Locked accounts keep their rep through a rebalance."""
    accounts, reps, plan = base
    locked = [
        dataclasses.replace(a, locked_rep=plan.rep_of[a.id]) if i % 10 == 0 else a
        for i, a in enumerate(accounts)
    ]
    gone = reps[5].id
    left = [r for r in reps if r.id != gone]
    locked = [
        a if a.locked_rep != gone else dataclasses.replace(a, locked_rep=None) for a in locked
    ]
    new = realign_territories(locked, left, plan.rep_of, ORACLE, RealignParams(max_moved_share=0.3))
    for a in locked:
        if a.locked_rep is not None:
            assert new.rep_of[a.id] == a.locked_rep
