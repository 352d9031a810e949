"""Plain data returned by the road-network engine.

Frozen dataclasses (and numpy arrays) only, so results can cross process boundaries, be
pickled into a job queue, or be printed in a notebook without dragging the network along.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, slots=True)
class Snap:
    """A coordinate placed on the nearest point of the nearest drivable edge.

    Attributes:
        lat: Latitude given by the caller.
        lon: Longitude given by the caller.
        snapped_lat: Latitude of the nearest point on the road.
        snapped_lon: Longitude of the nearest point on the road.
        offset_m: Walking distance (great-circle metres) from the point to the road; it is not
            part of the drive times, so callers can add their own walking/parking time.
        edge: Index of the directed edge the point lies on (see :attr:`RoadNetwork.edge_count`).
        fraction: Position along ``edge`` from its tail (0.0) to its head (1.0).
        reverse_edge: The same road driven the other way (two-way streets), or -1 for one-ways,
            where the car can only leave towards ``edge``'s head.
        label: The caller's name for the point, used in error messages.
    """

    lat: float
    lon: float
    snapped_lat: float
    snapped_lon: float
    offset_m: float
    edge: int
    fraction: float
    reverse_edge: int = -1
    label: str | None = None

    def placements(self) -> tuple[tuple[int, float], ...]:
        """The (directed edge, fraction along it) pairs a car at this point can be on."""
        if self.reverse_edge < 0:
            return ((self.edge, self.fraction),)
        return ((self.edge, self.fraction), (self.reverse_edge, 1.0 - self.fraction))


@dataclass(frozen=True, slots=True, eq=False)
class TravelMatrix:
    """Drive times and distances between snapped points.

    Attributes:
        seconds: ``[len(sources), len(targets)]`` float64 seconds of the fastest route; row is
            the source. ``inf`` where the target cannot be reached.
        metres: Length in metres of that same fastest route (not the shortest one).
    """

    seconds: NDArray[np.float64]
    metres: NDArray[np.float64]

    @property
    def shape(self) -> tuple[int, int]:
        """``(len(sources), len(targets))``."""
        rows, cols = self.seconds.shape
        return int(rows), int(cols)


@dataclass(frozen=True, slots=True)
class RoutePath:
    """The fastest drive between two snapped points.

    Attributes:
        node_ids: OSM ids of the intersections passed, in order.
        node_indices: The same intersections as indices into the network's node arrays.
        coords: Road geometry as ``(lat, lon)`` pairs from the first snapped point to the last,
            following every bend of the road (not just the intersections).
        polyline: ``coords`` as a Google encoded polyline (precision 5), what map widgets draw.
        seconds: Drive time.
        metres: Drive distance.
    """

    node_ids: tuple[int, ...]
    node_indices: tuple[int, ...]
    coords: tuple[tuple[float, float], ...]
    polyline: str
    seconds: float
    metres: float


@dataclass(frozen=True, slots=True)
class Business:
    """A named point of interest from an OSM extract (a prospective account).

    Attributes:
        osm_id: ``"node/123"`` or ``"way/456"``: OSM numbers are only unique per element type.
        name: The ``name`` tag.
        lat: Latitude (the node, or the mean of a way's nodes).
        lon: Longitude.
        kind: The tag that makes it a business, e.g. ``"shop=bakery"``.
        opening_hours: The raw ``opening_hours`` tag, or ``None``.
        address: ``"street housenumber, postcode city"`` from ``addr:*`` tags, or ``None``.
    """

    osm_id: str
    name: str
    lat: float
    lon: float
    kind: str
    opening_hours: str | None
    address: str | None


__all__ = ["Business", "RoutePath", "Snap", "TravelMatrix"]
