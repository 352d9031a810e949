"""Solomon reader, cost conventions, and a short solve of C101 on the day-plan core."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.vrp import (
    check_routes,
    dimacs_cost,
    read_best_known,
    read_solomon,
    read_solution,
    route_set_distance,
    solve_solomon,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "vrp"


def test_reads_c101() -> None:
    inst = read_solomon(DATA / "C101.vrp")
    assert (inst.name, inst.vehicles, inst.capacity, inst.n_customers) == ("C101", 25, 200, 100)
    assert inst.xy[0].tolist() == [40.0, 50.0]
    assert (inst.ready[0], inst.due[0], inst.service[1]) == (0.0, 1236.0, 90.0)


def test_c101_solution_cost_in_both_conventions() -> None:
    inst = read_solomon(DATA / "C101.vrp")
    routes, cost = read_solution(DATA / "C101.sol")
    assert cost == 827.3
    assert dimacs_cost(inst, routes) == 827.3
    assert route_set_distance(inst, routes) == pytest.approx(828.94, abs=0.005)
    assert check_routes(inst, routes) == []


def test_reads_classic_layout(tmp_path: Path) -> None:
    text = """C101

VEHICLE
NUMBER     CAPACITY
  25         200

CUSTOMER
CUST NO.  XCOORD.   YCOORD.    DEMAND   READY TIME  DUE DATE   SERVICE   TIME

    0      40         50          0          0       1236          0
    1      45         68         10        912        967         90
"""
    p = tmp_path / "X1.txt"
    p.write_text(text)
    inst = read_solomon(p)
    assert (inst.vehicles, inst.capacity, inst.n_customers) == (25, 200, 1)
    assert inst.due[1] == 967.0


def test_best_known_from_csv_and_sol() -> None:
    bk = read_best_known(DATA / "R101.vrp", "R101")
    assert (bk.distonly_distance, bk.hier_distance, bk.sol_cost) == (1642.88, 1645.79, 1637.7)


@pytest.mark.slow
def test_short_solve_of_c101_near_best_known() -> None:
    """Two seconds on C101 give a feasible plan within 3 % of the best-known 828.94."""
    res = solve_solomon(read_solomon(DATA / "C101.vrp"), 2.0)
    assert res.violations == []
    assert res.distance <= 828.94 * 1.03
