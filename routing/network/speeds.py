"""Speed profiles: how fast a car drives on each class of road.

OSM's ``maxspeed`` tag is used where present. Where it is missing (most residential streets) the
speed comes from a per-``highway`` table, because a 30 km/h village street and a 100 km/h trunk
road must not cost the same per metre. The table is data, not code: a deployment overrides it
(``SpeedProfile.from_toml``) and the profile's :attr:`SpeedProfile.version`, which changes with
any value, is part of the compiled-network cache key, so changed speeds never reuse stale
travel times.

Default table (km/h), chosen for central European roads outside rush hour:

=================  =====  ==================================================
highway            km/h   why
=================  =====  ==================================================
motorway           110    below the usual 120-130 limit: lane changes, exits
motorway_link      60
trunk              90
trunk_link         50
primary            70     mixes town (50) and open road (80)
primary_link       45
secondary          60
secondary_link     40
tertiary           50
tertiary_link      35
unclassified       40     minor country roads
residential        30     town streets; many are 30 zones
living_street      10     walking pace is the legal limit in many countries
road               40     unknown class
busway             30
=================  =====  ==================================================

Edges whose class is not in the table use ``fallback_kmh`` (40). Symbolic limits such as
``maxspeed=CH:urban`` map through ``zone_kmh`` (``urban`` 50, ``rural`` 80, ``motorway`` 120,
``trunk`` 100, ``living_street`` 20, ``walk`` 7).

Example:
    >>> slow = DEFAULT_SPEED_PROFILE.with_overrides(residential=20.0)
    >>> slow.version != DEFAULT_SPEED_PROFILE.version
    True
"""

from __future__ import annotations

import hashlib
import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

DEFAULT_HIGHWAY_KMH: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 110.0,
        "motorway_link": 60.0,
        "trunk": 90.0,
        "trunk_link": 50.0,
        "primary": 70.0,
        "primary_link": 45.0,
        "secondary": 60.0,
        "secondary_link": 40.0,
        "tertiary": 50.0,
        "tertiary_link": 35.0,
        "unclassified": 40.0,
        "residential": 30.0,
        "living_street": 10.0,
        "road": 40.0,
        "busway": 30.0,
    }
)

DEFAULT_ZONE_KMH: Mapping[str, float] = MappingProxyType(
    {
        "urban": 50.0,
        "rural": 80.0,
        "motorway": 120.0,
        "trunk": 100.0,
        "living_street": 20.0,
        "walk": 7.0,
    }
)


def _check_speeds(table: Mapping[str, float], what: str) -> None:
    for key, value in table.items():
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            msg = f"{what} speed for {key!r} must be a positive number of km/h, not {value!r}"
            raise ValueError(msg)


@dataclass(frozen=True, slots=True)
class SpeedProfile:
    """Speeds used to turn road lengths into travel times.

    Attributes:
        name: Human name of the profile, part of :attr:`version`.
        highway_kmh: Speed per OSM ``highway`` value for edges without a usable ``maxspeed``.
        fallback_kmh: Speed for highway classes missing from ``highway_kmh``.
        zone_kmh: Speeds for symbolic ``maxspeed`` values such as ``DE:urban`` (by the part
            after the colon) and plain words such as ``walk``.
    """

    name: str = "default"
    highway_kmh: Mapping[str, float] = field(default_factory=lambda: DEFAULT_HIGHWAY_KMH)
    fallback_kmh: float = 40.0
    zone_kmh: Mapping[str, float] = field(default_factory=lambda: DEFAULT_ZONE_KMH)

    def __post_init__(self) -> None:
        _check_speeds(self.highway_kmh, "highway")
        _check_speeds(self.zone_kmh, "zone")
        _check_speeds({"fallback": self.fallback_kmh}, "fallback")
        # Freeze the tables so a profile cannot change after its version was computed.
        object.__setattr__(self, "highway_kmh", MappingProxyType(dict(self.highway_kmh)))
        object.__setattr__(self, "zone_kmh", MappingProxyType(dict(self.zone_kmh)))

    @property
    def version(self) -> str:
        """A short name that changes whenever any speed changes (a cache-key component)."""
        payload = json.dumps(
            {
                "highway": sorted(self.highway_kmh.items()),
                "fallback": self.fallback_kmh,
                "zone": sorted(self.zone_kmh.items()),
            },
            sort_keys=True,
        )
        digest = hashlib.sha256(payload.encode()).hexdigest()[:10]
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in self.name)[:32]
        return f"{safe}-{digest}"

    def with_overrides(self, name: str | None = None, **highway_kmh: float) -> SpeedProfile:
        """A copy with some highway classes set to other speeds (km/h)."""
        table = {**self.highway_kmh, **highway_kmh}
        return replace(self, name=name or self.name, highway_kmh=table)

    def speed_for_maxspeed(self, raw: str) -> float | None:
        """Speed (km/h) for one ``maxspeed`` value, or ``None`` when it says nothing usable.

        Handles plain numbers (``50``), miles per hour (``30 mph``), and symbolic values
        (``CH:urban``, ``walk``) through :attr:`zone_kmh`. ``none`` (no limit, e.g. German
        motorways) returns ``None`` so the highway-class default applies.
        """
        value = raw.strip().lower()
        if not value:
            return None
        zone = value.rsplit(":", 1)[-1].strip()
        if zone in self.zone_kmh:
            return float(self.zone_kmh[zone])
        factor = 1.0
        if value.endswith("mph"):
            factor, value = 1.609344, value[:-3].strip()
        elif value.endswith("km/h") or value.endswith("kmh"):
            value = value.removesuffix("km/h").removesuffix("kmh").strip()
        try:
            number = float(value)
        except ValueError:
            return None
        if not math.isfinite(number) or number <= 0:
            return None
        return number * factor

    @classmethod
    def from_toml(cls, path: Path) -> SpeedProfile:
        """Load a profile from TOML, starting from the defaults.

        Example file::

            name = "alpine-winter"
            fallback_kmh = 35
            [highway_kmh]
            residential = 25
            primary = 60
            [zone_kmh]
            rural = 70
        """
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
        unknown = set(data) - {"name", "highway_kmh", "fallback_kmh", "zone_kmh"}
        if unknown:
            msg = f"{path}: unknown speed profile keys {sorted(unknown)}"
            raise ValueError(msg)
        return cls(
            name=str(data.get("name", "custom")),
            highway_kmh={**DEFAULT_HIGHWAY_KMH, **data.get("highway_kmh", {})},
            fallback_kmh=float(data.get("fallback_kmh", 40.0)),
            zone_kmh={**DEFAULT_ZONE_KMH, **data.get("zone_kmh", {})},
        )


DEFAULT_SPEED_PROFILE = SpeedProfile()

__all__ = ["DEFAULT_HIGHWAY_KMH", "DEFAULT_SPEED_PROFILE", "DEFAULT_ZONE_KMH", "SpeedProfile"]
