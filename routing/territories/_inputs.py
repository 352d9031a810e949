"""Input validation and conversion to arrays, shared by design and realignment."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from routing.territories.errors import InvalidTerritoryInputError, MissingHomeError
from routing.territories.model import TerritoryAccount, TerritoryRep
from routing.territories.oracle import TravelTimeOracle

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Arrays:
    """Accounts and reps as arrays, in input order."""

    ids: list[str]
    rep_ids: list[str]
    lat: FloatArray
    lon: FloatArray
    w: FloatArray
    pot: FloatArray
    visits: FloatArray
    move_cost: FloatArray
    home_lat: FloatArray
    home_lon: FloatArray
    rep_locked: NDArray[np.bool_]
    locked_to: NDArray[np.int64]  # rep index per account, -1 = free


def to_arrays(
    accounts: Sequence[TerritoryAccount],
    reps: Sequence[TerritoryRep],
    oracle: TravelTimeOracle,
    min_accounts: int | None = None,
) -> Arrays:
    """Validate the input and convert it; raises a :class:`TerritoryError` subclass on bad data.

    Args:
        accounts: Accounts to place.
        reps: Reps, each with a home base.
        oracle: Used to check that every account and home can be reached.
        min_accounts: Accounts needed at least (default: one per unlocked rep).
    """
    if not reps:
        raise InvalidTerritoryInputError("no_reps", "at least one rep is needed")
    rep_ids = [r.id for r in reps]
    if len(set(rep_ids)) != len(rep_ids):
        raise InvalidTerritoryInputError("duplicate_rep", "rep ids must be unique")
    ids = [a.id for a in accounts]
    if len(set(ids)) != len(ids):
        raise InvalidTerritoryInputError("duplicate_account", "account ids must be unique")
    need = sum(1 for r in reps if not r.locked) if min_accounts is None else min_accounts
    if len(accounts) < need:
        raise InvalidTerritoryInputError(
            "too_few_accounts",
            f"{len(accounts)} accounts cannot fill {need} territories: "
            "every territory needs at least one account",
        )
    for r in reps:
        if r.lat is None or r.lon is None or not (math.isfinite(r.lat) and math.isfinite(r.lon)):
            raise MissingHomeError(r.id)
    index = {r: i for i, r in enumerate(rep_ids)}
    locked_to = np.full(len(accounts), -1, dtype=np.int64)
    for i, a in enumerate(accounts):
        if not (math.isfinite(a.workload_hours) and a.workload_hours >= 0):
            raise InvalidTerritoryInputError(
                "bad_workload", f"account {a.id!r} has workload {a.workload_hours!r}"
            )
        if not math.isfinite(a.potential):
            raise InvalidTerritoryInputError(
                "bad_potential", f"account {a.id!r} has potential {a.potential!r}"
            )
        if a.locked_rep is not None:
            if a.locked_rep not in index:
                raise InvalidTerritoryInputError(
                    "unknown_rep", f"account {a.id!r} is locked to unknown rep {a.locked_rep!r}"
                )
            locked_to[i] = index[a.locked_rep]
    lat = np.array([a.lat for a in accounts], dtype=np.float64)
    lon = np.array([a.lon for a in accounts], dtype=np.float64)
    oracle.check_points(lat, lon, ids)
    home_lat = np.array([r.lat for r in reps], dtype=np.float64)
    home_lon = np.array([r.lon for r in reps], dtype=np.float64)
    oracle.check_points(home_lat, home_lon, [f"home of rep {r}" for r in rep_ids])
    w = np.array([a.workload_hours for a in accounts], dtype=np.float64)
    if w.sum() <= 0:
        raise InvalidTerritoryInputError("zero_workload", "total workload is zero")
    return Arrays(
        ids=ids,
        rep_ids=rep_ids,
        lat=lat,
        lon=lon,
        w=w,
        pot=np.array([a.potential for a in accounts], dtype=np.float64),
        visits=np.array(
            [
                a.visits_per_year if a.visits_per_year is not None else a.workload_hours
                for a in accounts
            ],
            dtype=np.float64,
        ),
        move_cost=np.array([max(a.move_cost, 0.0) for a in accounts], dtype=np.float64),
        home_lat=home_lat,
        home_lon=home_lon,
        rep_locked=np.array([r.locked for r in reps], dtype=bool),
        locked_to=locked_to,
    )
