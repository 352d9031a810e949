"""Drive-time matrices for a week problem, from :mod:`routing.network`.

The planner works on plain matrices indexed by *location*; this module fixes the order
(every distinct day start/end point first, home at 0, then one location per account in the
problem's order) and builds the matrix the way the day planner does: snap every point onto the
road network, then one many-to-many :meth:`RoadNetwork.travel_matrix`. An account with no road
nearby is not an error: it is reported as unreachable and waits with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from routing.network import PointOffNetworkError, RoadNetwork, Snap
from routing.week.horizon import working_dates
from routing.week.model import Point, WeekPlanError, WeekProblem


@dataclass(frozen=True, slots=True)
class WeekMatrix:
    """Travel seconds and metres between the problem's locations (see :func:`locations`).

    Attributes:
        seconds: Square matrix, seconds.
        metres: Same shape, metres.
        unreachable: Account id -> why it cannot be reached (no road within the snap limit).
    """

    seconds: npt.NDArray[np.float64]
    metres: npt.NDArray[np.float64]
    unreachable: dict[str, str] = field(default_factory=dict)


def locations(problem: WeekProblem) -> tuple[list[Point], dict[Point, int], int]:
    """The location order: ``(points, index of each day-end point, first account index)``."""
    ends: dict[Point, int] = {problem.rep.home: 0}
    dates = set(working_dates(problem))
    for e in problem.day_ends:
        if e.date not in dates:
            continue
        for p in (e.start, e.end):
            if p is not None and p not in ends:
                ends[p] = len(ends)
    points = list(ends) + [Point(a.lat, a.lon) for a in problem.accounts]
    return points, ends, len(ends)


def build_matrix(
    net: RoadNetwork, problem: WeekProblem, *, max_snap_m: float = 500.0
) -> WeekMatrix:
    """Snap the problem's points and compute the drive-time matrix between all of them.

    Raises:
        WeekPlanError: A day's start or end point (home, office) is off the road network.
    """
    points, _ends, offset = locations(problem)
    snaps: list[Snap] = []
    for i, p in enumerate(points[:offset]):
        try:
            snaps.append(
                net.snap(
                    p.lat,
                    p.lon,
                    label="home base" if i == 0 else "day start/end",
                    max_distance_m=max_snap_m,
                )
            )
        except PointOffNetworkError as exc:
            raise WeekPlanError(str(exc), field="rep.home" if i == 0 else "day_ends") from exc
    unreachable: dict[str, str] = {}
    try:
        snaps += net.snap_many(
            [(a.lat, a.lon) for a in problem.accounts],
            labels=[a.label or a.id for a in problem.accounts],
            max_distance_m=max_snap_m,
        )
    except PointOffNetworkError:
        for a in problem.accounts:
            try:
                snaps.append(
                    net.snap(a.lat, a.lon, label=a.label or a.id, max_distance_m=max_snap_m)
                )
            except PointOffNetworkError:
                unreachable[a.id] = f"no road within {max_snap_m:.0f} m"
                snaps.append(snaps[0])
    matrix = net.travel_matrix(snaps, snaps)
    return WeekMatrix(
        np.asarray(matrix.seconds, dtype=np.float64),
        np.asarray(matrix.metres, dtype=np.float64),
        unreachable,
    )


__all__ = ["WeekMatrix", "build_matrix", "locations"]
