"""Properties of the day planner on tiny instances solved by the real OR-Tools solver."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from routing.vrp import (
    Break,
    DayProblem,
    InfeasibleProblemError,
    SolveParams,
    Stop,
    TimeWindow,
    Vehicle,
    VehicleProgress,
    replan,
    solve,
)

H = 3600


def line_matrix(xs: list[float], speed: float = 10.0) -> tuple[np.ndarray, np.ndarray]:
    """Locations on a line: metres = |xi - xj|, seconds = metres / speed."""
    x = np.array(xs, dtype=float)
    metres = np.abs(x[:, None] - x[None, :])
    return np.ceil(metres / speed), metres


def rep(**kw: object) -> Vehicle:
    base: dict[str, object] = {
        "id": "rep",
        "start_location": 0,
        "end_location": 0,
        "shift_start": 8 * H,
        "shift_end": 17 * H,
    }
    base.update(kw)
    return Vehicle(**base)  # type: ignore[arg-type]


def order(sol, vid: str = "rep") -> list[str]:  # type: ignore[no-untyped-def]
    return [s.stop_id for s in sol.routes[vid].stops]


def test_windows_respected_and_visit_inside_window() -> None:
    """Each visit starts and ends inside one of its windows, even when that forces waiting."""
    secs, metres = line_matrix([0, 1000, 2000, 3000])
    stops = [
        Stop("a", 1, 1800, [TimeWindow(14 * H, 15 * H)], penalty=10**6),
        Stop("b", 2, 1800, [TimeWindow(8 * H, 9 * H), TimeWindow(10 * H, 11 * H)], penalty=10**6),
        Stop("c", 3, 600, penalty=10**6),
    ]
    sol = solve(DayProblem(secs, metres, [rep()], stops))
    assert sorted(order(sol)) == ["a", "b", "c"]
    by_id = {s.id: s for s in stops}
    for rs in sol.routes["rep"].stops:
        ws = by_id[rs.stop_id].windows or [TimeWindow(0, 24 * H)]
        assert any(w.start <= rs.start and rs.end <= w.end for w in ws), rs
        assert rs.wait >= 0 and rs.arrival + rs.wait == rs.start
    assert sol.routes["rep"].end_arrival <= 17 * H


def test_break_taken_inside_its_window_and_not_during_a_visit() -> None:
    """The lunch break starts within its window and does not overlap any visit."""
    secs, metres = line_matrix([0, 500, 1000, 1500, 2000])
    stops = [Stop(f"s{i}", i, 5400, penalty=10**6) for i in range(1, 5)]
    brk = Break(11 * H + 1800, 14 * H, 1800)
    sol = solve(DayProblem(secs, metres, [rep(breaks=[brk])], stops))
    route = sol.routes["rep"]
    assert len(route.stops) == 4
    assert len(route.breaks) == 1
    b = route.breaks[0]
    assert brk.earliest_start <= b.start <= brk.latest_start
    for rs in route.stops:
        assert b.start + b.duration <= rs.start or b.start >= rs.end


def test_required_stops_always_visited() -> None:
    """Required stops with zero penalty are still planned."""
    secs, metres = line_matrix([0, 9000, -9000])
    stops = [Stop("far1", 1, 600, required=True), Stop("far2", 2, 600, required=True)]
    sol = solve(DayProblem(secs, metres, [rep()], stops))
    assert sorted(order(sol)) == ["far1", "far2"]
    assert sol.dropped == []


def test_high_penalty_chosen_over_low_when_only_one_fits() -> None:
    """With time for one visit only, the more valuable stop is planned, the other dropped."""
    secs, metres = line_matrix([0, 100, -100])
    stops = [Stop("low", 1, 3 * H, penalty=1000), Stop("high", 2, 3 * H, penalty=5000)]
    sol = solve(DayProblem(secs, metres, [rep(shift_end=12 * H)], stops))
    assert order(sol) == ["high"]
    assert [(d.stop_id, d.reason_code) for d in sol.dropped] == [("low", "low_priority")]
    assert "lower priority than the 1 stops chosen" in sol.dropped[0].reason


def test_drop_reasons_are_specific() -> None:
    """Closed, unreachable, too long and outside-shift stops each get their own reason."""
    secs, metres = line_matrix([0, 100, 200, 300, 400])
    secs[0, 2] = secs[2, 0] = np.inf
    stops = [
        Stop("closed", 1, 600, [], penalty=10**6, hours_note="closed on Mondays"),
        Stop("island", 2, 600, penalty=10**6),
        Stop("long", 3, 10 * H, penalty=10**6),
        Stop("early", 4, 600, [TimeWindow(6 * H, 7 * H)], penalty=10**6),
    ]
    sol = solve(DayProblem(secs, metres, [rep(shift_end=16 * H)], stops))
    reasons = {d.stop_id: (d.reason_code, d.reason) for d in sol.dropped}
    assert reasons["closed"] == ("closed", "closed on Mondays")
    assert reasons["island"][0] == "unreachable"
    assert reasons["long"][0] == "too_long"
    assert "needs 121 min more than the shift has" in reasons["long"][1]
    assert reasons["early"][0] == "outside_shift"
    assert "closes at 07:00, before the shift starts at 08:00" in reasons["early"][1]


def test_deterministic_same_input_same_plan() -> None:
    """Solving the same 20-stop problem twice gives identical plans."""
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 20_000, size=(21, 2))
    metres = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    secs = np.ceil(metres / 12)
    stops = [
        Stop(
            f"s{i}",
            i,
            1200,
            penalty=int(rng.integers(300, 3000)),
            windows=[TimeWindow(9 * H, 12 * H)] if i % 4 == 0 else None,
        )
        for i in range(1, 21)
    ]
    problem = DayProblem(secs, metres, [rep(breaks=[Break(11 * H + 1800, 14 * H, 1800)])], stops)
    assert solve(problem) == solve(problem)


def test_replan_keeps_untouched_order_after_cancellation_and_urgent_addition() -> None:
    """After a cancellation and an urgent addition, untouched stops keep their relative order."""
    xs = [0, 1000, 2000, 3000, 4000, 5000, 6000, 2500]
    secs, metres = line_matrix(xs)
    stops = [Stop(f"s{i}", i, 900, penalty=10**5) for i in range(1, 7)]
    problem = DayProblem(secs, metres, [rep()], stops)
    first = solve(problem)
    planned = order(first)
    assert sorted(planned) == [f"s{i}" for i in range(1, 7)]
    done, cancelled = planned[:2], planned[3]
    at = first.routes["rep"].stops[1]
    urgent = Stop("urgent", 7, 600, required=True)
    new = replan(
        problem,
        {"rep": VehicleProgress(location=at.location, time=at.end, done=done)},
        first,
        cancelled=[cancelled],
        added=[urgent],
    )
    new_order = order(new)
    assert "urgent" in new_order and cancelled not in new_order
    assert not set(done) & set(new_order)
    untouched = [s for s in planned if s not in done and s != cancelled]
    assert [s for s in new_order if s in untouched] == untouched
    assert new.routes["rep"].departure >= at.end


def test_previous_order_hint_is_kept_when_cheap() -> None:
    """A slightly worse previous order is kept when reordering saves less than the penalty."""
    secs, metres = line_matrix([0, 1000, 1100, 2000])
    stops = [Stop(f"s{i}", i, 600, penalty=10**5) for i in range(1, 4)]
    problem = DayProblem(secs, metres, [rep()], stops)
    prev = {"rep": ["s2", "s1", "s3"]}  # costs 20 s more than s1, s2, s3
    sol = solve(problem, SolveParams(previous_order=prev, reorder_penalty=300))
    assert order(sol) == ["s2", "s1", "s3"]
    free = solve(problem, SolveParams(previous_order=prev, reorder_penalty=0))
    assert order(free) in (["s1", "s2", "s3"], ["s3", "s2", "s1"])


def test_capacity_and_several_vehicles() -> None:
    """Demands beyond one vehicle's capacity are split over two vehicles."""
    secs, metres = line_matrix([0, 100, 200, 300, 400])
    stops = [Stop(f"s{i}", i, 600, required=True, demand=5) for i in range(1, 5)]
    vehicles = [rep(id="a", capacity=10), rep(id="b", capacity=10)]
    sol = solve(DayProblem(secs, metres, vehicles, stops))
    assert [len(r.stops) for r in sol.routes.values()] == [2, 2]
    assert sol.vehicles_used == 2


def test_fixed_vehicle_respected() -> None:
    """A stop fixed to a vehicle is planned on that vehicle."""
    secs, metres = line_matrix([0, 100, 200])
    stops = [Stop("x", 1, 600, required=True, fixed_vehicle="b"), Stop("y", 2, 600, required=True)]
    sol = solve(DayProblem(secs, metres, [rep(id="a"), rep(id="b")], stops))
    assert "x" in order(sol, "b")


def test_unknown_hours_are_noted_in_the_plan() -> None:
    """A stop with guessed hours is listed in the plan's notes."""
    secs, metres = line_matrix([0, 100])
    stops = [
        Stop(
            "x",
            1,
            600,
            penalty=10**5,
            hours_known=False,
            hours_note="opening hours unknown: assumed open during the shift",
        )
    ]
    sol = solve(DayProblem(secs, metres, [rep()], stops))
    assert sol.notes == ["x: opening hours unknown: assumed open during the shift"]
    named = [dataclasses.replace(stops[0], label="Bäckerei Frick")]
    sol = solve(DayProblem(secs, metres, [rep()], named))
    assert sol.notes == ["Bäckerei Frick: opening hours unknown: assumed open during the shift"]


# --- bad input: each case names the stop or vehicle and why -------------------------------


def _issue(problem: DayProblem) -> tuple[str, str | None, str | None, str]:
    with pytest.raises(InfeasibleProblemError) as err:
        solve(problem)
    i = err.value.issues[0]
    return i.code, i.stop_id, i.vehicle_id, i.message


def test_required_stop_unreachable() -> None:
    secs, metres = line_matrix([0, 100])
    secs[0, 1] = np.inf
    code, sid, _, msg = _issue(DayProblem(secs, metres, [rep()], [Stop("x", 1, 60, required=True)]))
    assert (code, sid) == ("unreachable", "x")
    assert "required stop x: unreachable" in msg


def test_required_window_closes_before_shift() -> None:
    secs, metres = line_matrix([0, 100])
    stop = Stop("x", 1, 600, [TimeWindow(6 * H, 7 * H)], required=True)
    code, sid, _, msg = _issue(DayProblem(secs, metres, [rep()], [stop]))
    assert (code, sid) == ("outside_shift", "x")
    assert "closes at 07:00, before the shift starts at 08:00" in msg


def test_break_longer_than_shift() -> None:
    secs, metres = line_matrix([0, 100])
    v = rep(shift_end=9 * H, breaks=[Break(8 * H, 9 * H, 2 * H)])
    code, _, vid, msg = _issue(DayProblem(secs, metres, [v], []))
    assert (code, vid) == ("break_longer_than_shift", "rep")
    assert "120 min break is longer than the 60 min shift" in msg


def test_required_stop_too_long_for_shift() -> None:
    secs, metres = line_matrix([0, 3600 * 10])
    code, sid, _, msg = _issue(
        DayProblem(secs, metres, [rep(shift_end=12 * H)], [Stop("x", 1, 3 * H, required=True)])
    )
    assert (code, sid) == ("too_long", "x")
    assert "needs 60 min more than the shift has" in msg


def test_required_stops_that_cannot_fit_together() -> None:
    """Two appointments at the same time far apart: one is named, with a partial plan."""
    secs, metres = line_matrix([0, 6000, -6000])
    stops = [
        Stop("a", 1, 1800, [TimeWindow(10 * H, 10 * H + 1800)], required=True),
        Stop("b", 2, 1800, [TimeWindow(10 * H, 10 * H + 1800)], required=True),
    ]
    with pytest.raises(InfeasibleProblemError) as err:
        solve(DayProblem(secs, metres, [rep()], stops))
    assert [i.code for i in err.value.issues] == ["infeasible_together"]
    assert err.value.issues[0].stop_id in {"a", "b"}
    assert err.value.partial is not None
    assert len(err.value.partial.routes["rep"].stops) == 1
