"""Errors of the road-network engine.

Every error names what is wrong (the file, the coordinate, the account) because the people who
read them are operators importing a region or reps whose account cannot be routed, not the
authors of this module. All of them derive from :class:`RoutingError` so callers can catch the
family in one place (the CLI turns them into exit code 2).
"""

from __future__ import annotations


class RoutingError(Exception):
    """Base class of every error raised by :mod:`routing.network`."""


class ExtractNotFoundError(RoutingError, FileNotFoundError):
    """The extract path does not exist or is not a file."""


class UnsupportedExtractError(RoutingError, ValueError):
    """The file type is not one the engine reads (``.osm.pbf``, ``.osm``, ``.osm.bz2``)."""


class CorruptExtractError(RoutingError, ValueError):
    """The extract is empty, truncated or not OpenStreetMap data at all."""


class NoDrivableRoadsError(RoutingError, ValueError):
    """The extract has no drivable roads (or none that form a connected network)."""


class RegionDownloadError(RoutingError):
    """An online region (OSMnx place or bounding box) could not be downloaded."""


class InvalidCoordinateError(RoutingError, ValueError):
    """A latitude or longitude is NaN, infinite or outside its valid range.

    Attributes:
        label: The caller's name for the point (an account name, a CSV id), if given.
        value: The offending value.
    """

    def __init__(self, message: str, *, label: str | None = None, value: float | None = None):
        super().__init__(message)
        self.label = label
        self.value = value


class PointOffNetworkError(RoutingError, ValueError):
    """A point is farther than the allowed walking distance from every drivable road.

    Snapping such a point silently would route a rep to a road that may be kilometres from the
    account, so the engine refuses and names the account instead.

    Attributes:
        label: The caller's name for the point (an account name, a CSV id), if given.
        distance_m: Distance in metres to the nearest drivable road.
        max_distance_m: The limit that was exceeded.
        lat: Latitude of the point.
        lon: Longitude of the point.
    """

    def __init__(
        self,
        message: str,
        *,
        label: str | None,
        distance_m: float,
        max_distance_m: float,
        lat: float,
        lon: float,
    ):
        super().__init__(message)
        self.label = label
        self.distance_m = distance_m
        self.max_distance_m = max_distance_m
        self.lat = lat
        self.lon = lon


__all__ = [
    "CorruptExtractError",
    "ExtractNotFoundError",
    "InvalidCoordinateError",
    "NoDrivableRoadsError",
    "PointOffNetworkError",
    "RegionDownloadError",
    "RoutingError",
    "UnsupportedExtractError",
]
