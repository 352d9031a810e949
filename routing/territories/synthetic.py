"""Seeded synthetic instances for tests and benchmarks (no real customer data needed).

Accounts cluster around towns (a few dense, many small) over a rural background, like a real
sales region; workloads and potentials are skewed, as cadence tiers make them.
"""

from __future__ import annotations

import numpy as np

from routing.territories.model import TerritoryAccount, TerritoryRep


def synthetic_instance(
    n_accounts: int,
    n_reps: int,
    seed: int = 0,
    centre: tuple[float, float] = (47.0, 9.0),
    radius_km: float | None = None,
    town_share: float = 0.5,
) -> tuple[list[TerritoryAccount], list[TerritoryRep]]:
    """Build ``n_accounts`` accounts and ``n_reps`` reps with homes inside the region.

    Args:
        n_accounts: Number of accounts.
        n_reps: Number of reps.
        seed: Random seed; the same arguments always give the same instance.
        centre: Region centre (lat, lon).
        radius_km: Region radius; grows with the rep count by default (about 1,000 km²
            per rep), so territory sizes stay realistic.
        town_share: Share of accounts in towns (0 = uniform over the region). Heavily
            clustered data makes any balanced plan much more dispersed than unbalanced
            k-means, which simply puts one centre per town.
    """
    rng = np.random.default_rng(seed)
    r_km = radius_km if radius_km is not None else float(np.sqrt(n_reps * 1000.0 / np.pi))
    n_towns = max(3, n_reps // 2)
    town_xy = rng.uniform(-1, 1, size=(n_towns, 2)) * r_km * 0.9
    town_size = rng.pareto(1.5, size=n_towns) + 1.0
    town_spread = rng.uniform(0.02, 0.08, size=n_towns) * r_km
    in_town = rng.random(n_accounts) < town_share
    which = rng.choice(n_towns, size=n_accounts, p=town_size / town_size.sum())
    xy = rng.uniform(-1, 1, size=(n_accounts, 2)) * r_km
    xy[in_town] = (
        town_xy[which[in_town]]
        + rng.normal(size=(int(in_town.sum()), 2)) * town_spread[which[in_town], None]
    )
    lat0, lon0 = centre
    km_lat = 111.195
    km_lon = km_lat * np.cos(np.radians(lat0))
    lat = lat0 + xy[:, 1] / km_lat
    lon = lon0 + xy[:, 0] / km_lon
    tier = rng.choice([4.0, 12.0, 24.0, 52.0], size=n_accounts, p=[0.35, 0.35, 0.2, 0.1])
    minutes = rng.uniform(30, 90, size=n_accounts)
    work = tier * minutes / 60.0
    potential = rng.lognormal(mean=np.log(10_000), sigma=0.8, size=n_accounts) * (tier / 12.0)
    accounts = [
        TerritoryAccount(
            id=f"a{i}",
            lat=float(lat[i]),
            lon=float(lon[i]),
            workload_hours=round(float(work[i]), 3),
            potential=round(float(potential[i]), 2),
            visits_per_year=float(tier[i]),
        )
        for i in range(n_accounts)
    ]
    hxy = rng.uniform(-0.8, 0.8, size=(n_reps, 2)) * r_km
    reps = [
        TerritoryRep(
            id=f"r{j}",
            lat=float(lat0 + hxy[j, 1] / km_lat),
            lon=float(lon0 + hxy[j, 0] / km_lon),
        )
        for j in range(n_reps)
    ]
    return accounts, reps


__all__ = ["synthetic_instance"]
