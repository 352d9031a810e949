"""Which visits go on which day: regret insertion over the days, then a priority repair.

Every due visit is priced on every day it may go on (drive-time delta of its cheapest
insertion into the day's current order, plus lateness, earliness and balance, see
:mod:`routing.week.state`); the visit with the largest *regret* (how much it loses if it does
not get its best day; visits with one possible day first, high priority breaking near-ties) is
placed next, exactly checked against windows, breaks and the shift. Days fill around the
visits already placed, so each day grows into a geographic cluster. A visit placed spawns the
account's next visit when its cadence is shorter than the horizon.

When the horizon is full, the repair step lets a waiting visit take the place of a
lower-priority one on a day it may go on, so the lowest-priority visits are the ones that wait.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from routing.week.state import BALANCE_FREE_SHARE, State

REGRET_CAP = 100_000.0
PRIORITY_TIE = 5.0
"""Regret seconds one priority point is worth when choosing the next visit to place."""
REPAIR_VICTIMS = 8


def seed(state: State, order: dict[int, list[str]] | None = None) -> list[int]:
    """Place the appointments, spawn every account's first due visit; return those to place.

    Args:
        state: A fresh state.
        order: Re-plan: per day, the previous plan's account order (a warm start: each
            previous visit goes back on its day at its place when it still may and fits).
    """
    inst = state.inst
    for d, row in enumerate(inst.appointments):
        for a, ap in row:
            start = ap.start.hour * 3600 + ap.start.minute * 60 + ap.start.second
            v = state.add_visit(
                account=a,
                number=0,
                earliest=d,
                latest=d,
                due_date_ordinal=inst.days[d].date.toordinal(),
                duration=ap.duration_min * 60,
                fixed_day=d,
                fixed_start=start,
                appointment_id=ap.key,
            )
            state.fixed_dates.setdefault(a, []).append(inst.days[d].date)
            fit = state.model.insert(state.routes[d], v)
            if fit is None:
                state.failed.append(v)
            else:
                state.place(v, fit[1])
    pending: list[int] = []
    for a, acc in enumerate(inst.problem.accounts):
        if acc.id in inst.unreachable:
            continue
        first = state.spawn(a, acc.last_visit, 1)
        if first is not None:
            pending.append(first)
    if order:
        pending = _warm(state, pending, order)
    return pending


def _warm(state: State, pending: list[int], order: dict[int, list[str]]) -> list[int]:
    """Put visits back on their previous day (in the previous order) where they may go."""
    inst = state.inst
    by_account = {state.visits[v].account: v for v in pending}
    rest: list[int] = []
    placed: set[int] = set()
    for day in sorted(order):
        for account_id in order[day]:
            a = inst.acc_index.get(account_id)
            v = by_account.get(a) if a is not None else None
            if v is None or v in placed or not state.allowed(v, day):
                continue
            fit = state.model.insert(state.routes[day], v)
            if fit is None:
                continue
            state.place(v, fit[1])
            placed.add(v)
            nxt = state.chain_next(v)
            if nxt is not None:
                by_account[state.visits[nxt].account] = nxt
                pending.append(nxt)
    rest = [v for v in pending if v not in placed]
    return rest


def _row(state: State, v: int) -> npt.NDArray[np.float64]:
    """Estimated cost of ``v`` on each day (inf where it may not go or clearly does not fit)."""
    out = np.full(len(state.routes), np.inf)
    loc = np.asarray([state.model.loc(v)], dtype=np.int64)
    dur = state.visits[v].duration
    for d, route in enumerate(state.routes):
        if state.allowed(v, d):
            delta = float(state.model.deltas(route, loc)[0])
            out[d] = _estimate(state, d, delta, dur) + state.placement(v, d)
    return out


def _estimate(state: State, d: int, delta: float, dur: int) -> float:
    """Drive delta plus the balance change, inf when the day clearly has no room."""
    route = state.routes[d]
    wd = state.inst.days[d]
    finish = route.finish + delta + dur
    if finish > wd.shift_end:
        return np.inf
    span = max(1, wd.shift_end - wd.shift_start)
    before = state.balance(route)
    over = max(0.0, finish - wd.shift_start - BALANCE_FREE_SHARE * span)
    return delta + state.weights.balance * over * over / span - before


def _column(
    state: State, d: int, pending: list[int], costs: dict[int, npt.NDArray[np.float64]]
) -> None:
    """Re-price every pending visit on day ``d`` after the day changed."""
    ok = [v for v in pending if state.allowed(v, d)]
    for v in pending:
        if v not in ok:
            costs[v][d] = np.inf
    if not ok:
        return
    locs = np.asarray([state.model.loc(v) for v in ok], dtype=np.int64)
    deltas = state.model.deltas(state.routes[d], locs)
    for v, delta in zip(ok, deltas, strict=True):
        costs[v][d] = _estimate(state, d, float(delta), state.visits[v].duration) + state.placement(
            v, d
        )


def construct(state: State, pending: list[int]) -> None:
    """Regret insertion of ``pending`` (and the chain visits they spawn) into the days."""
    prio = [a.priority for a in state.inst.problem.accounts]
    costs = {v: _row(state, v) for v in pending}
    pending = list(pending)
    while pending:
        rows = np.stack([costs[v] for v in pending])
        part = np.sort(rows, axis=1)
        best = part[:, 0]
        second = part[:, 1] if rows.shape[1] > 1 else np.full(len(pending), np.inf)
        finite = np.isfinite(best) & np.isfinite(second)
        regret = np.full(len(pending), REGRET_CAP)
        regret[finite] = np.minimum(second[finite] - best[finite], REGRET_CAP)
        key = regret + PRIORITY_TIE * np.asarray([prio[state.visits[v].account] for v in pending])
        key[~np.isfinite(best)] = -np.inf
        i = int(np.argmax(key))
        v = pending[i]
        if not np.isfinite(best[i]):
            state.failed.extend(sorted(pending))
            return
        d = int(np.argmin(costs[v]))
        fit = state.model.insert(state.routes[d], v)
        if fit is None:
            costs[v][d] = np.inf
            continue
        state.place(v, fit[1])
        pending.pop(i)
        del costs[v]
        _column(state, d, pending, costs)
        nxt = state.chain_next(v)
        if nxt is not None:
            pending.append(nxt)
            costs[nxt] = _row(state, nxt)
        # a placement changes the spacing of the account's other pending visits: none exist,
        # because an account has at most one pending visit at a time (chains spawn on placing)


def repair(state: State) -> None:
    """Let waiting visits displace lower-priority ones, highest priority first."""
    accounts = state.inst.problem.accounts
    for _round in range(3):
        changed = False
        waiting = sorted(
            (v for v in state.failed if state.visits[v].fixed_day is None),
            key=lambda v: (-accounts[state.visits[v].account].priority, v),
        )
        for u in waiting:
            if _displace(state, u):
                changed = True
        if not changed:
            return


def _displace(state: State, u: int) -> bool:
    """Place ``u`` instead of a lower-priority visit; the displaced one moves or waits."""
    accounts = state.inst.problem.accounts
    pu = accounts[state.visits[u].account].priority
    for d in range(len(state.routes)):
        if not state.allowed(u, d):
            continue
        victims = sorted(
            (
                w
                for w in state.routes[d].seq
                if state.visits[w].fixed_day is None
                and accounts[state.visits[w].account].priority < pu
            ),
            key=lambda w: (accounts[state.visits[w].account].priority, w),
        )[:REPAIR_VICTIMS]
        for w in victims:
            without = state.model.remove(state.routes[d], w)
            fit = state.model.insert(without, u)
            if fit is None:
                continue
            state.forget(w)
            state.place(u, fit[1])
            state.failed.remove(u)
            moved = _relocate_anywhere(state, w, exclude=d)
            if not moved:
                state.failed.append(w)
            nxt = state.chain_next(u)
            if nxt is not None:
                construct(state, [nxt])
            return True
    return False


def _relocate_anywhere(state: State, v: int, exclude: int) -> bool:
    """Put ``v`` on its cheapest other day that fits."""
    best: tuple[float, int] | None = None
    for d in range(len(state.routes)):
        if d == exclude or not state.allowed(v, d):
            continue
        fit = state.model.insert(state.routes[d], v)
        if fit is None:
            continue
        cost = (
            fit[0] + state.balance(fit[1]) - state.balance(state.routes[d]) + state.placement(v, d)
        )
        if best is None or cost < best[0]:
            best = (cost, d)
    if best is None:
        return False
    fit = state.model.insert(state.routes[best[1]], v)
    assert fit is not None
    state.place(v, fit[1])
    return True


__all__ = ["construct", "repair", "seed"]
