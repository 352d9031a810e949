"""The demo world: a real region, its real businesses as accounts, a team with territories.

Everything derives from the bundled OpenStreetMap extract plus a seed, so two runs build the
same demo. Potential and tier are generated; names, positions and opening hours are OSM's.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import Account, AlignmentState, Rep, Role, Team
from backend.services.alignments import store_alignment
from backend.services.people import create_rep, create_user, get_or_create_team

DEMO_TEAM = "Demo Team"
DEMO_PASSWORD = "fieldrep-demo"  # noqa: S105 - printed for the demo on purpose
REP_NAMES = ("Anna Beck", "Luca Frick", "Sara Marxer", "Jonas Büchel", "Mia Ospelt")
CADENCE_BY_TIER = {"A": 14, "B": 30, "C": 60, "D": 90}

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DemoLogin:
    """A login printed for the person running the demo."""

    email: str
    password: str
    role: str
    name: str


def _segment(kind: str) -> str:
    key, _, value = kind.partition("=")
    if key == "amenity" and value in {"pharmacy", "doctors", "dentist", "clinic", "veterinary"}:
        return "healthcare"
    if key == "amenity" and value in {"restaurant", "cafe", "bar", "pub", "fast_food"}:
        return "hospitality"
    if key == "tourism":
        return "hospitality"
    if key == "leisure":
        return "sports"
    if key == "amenity" and value in {
        "school",
        "kindergarten",
        "college",
        "university",
        "childcare",
        "music_school",
        "library",
    }:
        return "education"
    if key == "amenity" and value in {
        "townhall",
        "post_office",
        "fire_station",
        "police",
        "courthouse",
        "community_centre",
    }:
        return "public"
    return {"shop": "retail", "office": "office", "craft": "craft", "healthcare": "healthcare"}.get(
        key, "other"
    )


def _spread_homes(points: list[tuple[float, float]], count: int, rng: random.Random) -> list[int]:
    """Farthest-point picks: home bases spread over the region like a real team's."""
    first = rng.randrange(len(points))
    chosen = [first]
    best = [math.dist(p, points[first]) for p in points]
    while len(chosen) < count:
        nxt = max(range(len(points)), key=lambda i: best[i])
        chosen.append(nxt)
        best = [min(b, math.dist(p, points[nxt])) for b, p in zip(best, points, strict=True)]
    return chosen


async def demo_exists(session: AsyncSession) -> bool:
    """The demo is built once; later runs just serve it."""
    return await session.scalar(select(Team.id).where(Team.name == DEMO_TEAM)) is not None


async def build_demo(
    session: AsyncSession,
    region_path: Path,
    cache_dir: Path,
    *,
    seed: int = 7,
    max_accounts: int = 400,
    progress: Progress | None = None,
) -> list[DemoLogin]:
    """Create the demo team, reps, accounts and an active alignment in ``session``."""
    from routing.network import PointOffNetworkError, extract_businesses, load_region

    say = progress or (lambda _msg: None)
    rng = random.Random(seed)
    net = load_region(region_path, cache_dir=cache_dir)
    say(f"road network: {net.node_count} intersections")
    businesses = [b for b in extract_businesses(region_path, institutions=True) if b.name]
    businesses.sort(key=lambda b: b.osm_id)
    rng.shuffle(businesses)
    team = await get_or_create_team(session, DEMO_TEAM)
    logins = [DemoLogin("admin@demo.fieldrep", DEMO_PASSWORD, "admin", "Ada Admin")]
    await create_user(
        session,
        email=logins[0].email,
        password=DEMO_PASSWORD,
        full_name="Ada Admin",
        role=Role.ADMIN,
    )
    manager = DemoLogin("manager@demo.fieldrep", DEMO_PASSWORD, "manager", "Max Manager")
    await create_user(
        session,
        email=manager.email,
        password=DEMO_PASSWORD,
        full_name=manager.name,
        role=Role.MANAGER,
        team=team,
    )
    logins.append(manager)

    accounts: list[Account] = []
    seen_names: set[str] = set()
    for business in businesses:
        if len(accounts) >= max_accounts:
            break
        if business.name in seen_names:
            continue
        try:
            net.snap(business.lat, business.lon, label=business.name)
        except PointOffNetworkError:
            continue
        seen_names.add(business.name)
        tier = rng.choices("ABCD", weights=(1, 3, 4, 2))[0]
        potential = round(rng.lognormvariate(10.5 + {"A": 1.0, "B": 0.5}.get(tier, 0.0), 0.6), -2)
        accounts.append(
            Account(
                external_id=f"osm:{business.osm_id}",
                team_id=team.id,
                name=business.name,
                address=business.address,
                lat=business.lat,
                lon=business.lon,
                location=(business.lat, business.lon),
                segment=_segment(business.kind),
                tier=tier,
                potential=potential,
                visit_cadence_days=CADENCE_BY_TIER[tier],
                visit_duration_min=rng.choice((20, 30, 30, 45)),
                opening_hours=business.opening_hours,
                engagement=round(rng.random(), 2),
                open_opportunities=rng.choice((0, 0, 0, 1, 2)),
            )
        )
    session.add_all(accounts)
    await session.flush()
    say(f"accounts: {len(accounts)} real businesses from OpenStreetMap")

    account_points = [(a.lat, a.lon) for a in accounts]
    homes = [account_points[i] for i in _spread_homes(account_points, len(REP_NAMES), rng)]
    reps: list[Rep] = []
    for index, (name, home) in enumerate(zip(REP_NAMES, homes, strict=True), start=1):
        snap = net.snap(home[0], home[1], label=f"home of {name}")
        login = DemoLogin(f"rep{index}@demo.fieldrep", DEMO_PASSWORD, "rep", name)
        user = await create_user(
            session,
            email=login.email,
            password=DEMO_PASSWORD,
            full_name=name,
            role=Role.REP,
            team=team,
        )
        reps.append(
            await create_rep(
                session, user=user, team=team, home=(snap.snapped_lat, snap.snapped_lon)
            )
        )
        logins.append(login)
    say(f"team: 1 manager, {len(reps)} reps")

    rep_of_account, outlines, kpis = await _design(net, accounts, reps, say)
    await store_alignment(
        session,
        team_id=team.id,
        name="Initial alignment",
        rep_of_account=rep_of_account,
        state=AlignmentState.ACTIVE,
        outlines=outlines,
        kpis=kpis,
    )
    say("territories: active alignment stored")
    return logins


async def _design(
    net: object, accounts: list[Account], reps: list[Rep], say: Progress
) -> tuple[dict[int, int], dict[int, str], dict[str, object] | None]:
    """Balanced, compact territories over drive times, with their outlines and KPIs."""
    from backend.services.territories import OUTLINE_CONCAVITY, kpis_json
    from routing.territories import (
        DesignParams,
        RoadNetworkOracle,
        TerritoryAccount,
        TerritoryRep,
        design_territories,
        territory_polygons,
    )

    t_accounts = [
        TerritoryAccount(
            id=str(a.id),
            lat=a.lat,
            lon=a.lon,
            workload_hours=(365 / a.visit_cadence_days) * (a.visit_duration_min + 20) / 60,
            potential=a.potential,
        )
        for a in accounts
    ]
    t_reps = [TerritoryRep(id=str(r.id), lat=r.home_lat, lon=r.home_lon) for r in reps]
    oracle = RoadNetworkOracle(net)
    result = design_territories(t_accounts, t_reps, oracle, DesignParams())
    say("territories: designed (balanced workload, compact over drive times)")
    outlines = territory_polygons(t_accounts, result.rep_of, concave_ratio=OUTLINE_CONCAVITY)
    return (
        {int(a): int(r) for a, r in result.rep_of.items()},
        {int(rep): poly.wkt for rep, poly in outlines.items()},
        kpis_json(result.kpis),
    )
