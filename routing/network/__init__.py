"""Road network engine: OSM extract -> drivable graph -> compiled CSR arrays -> answers.

Load a region once (:func:`load_region`; cached on disk by content hash and speed profile),
then snap points onto roads, compute asymmetric drive-time matrices, and draw routes.

Example:
    >>> from pathlib import Path
    >>> from routing.network import load_region
    >>> net = load_region(Path("routing/data/liechtenstein.osm.pbf"))  # doctest: +SKIP
    >>> shop, office = net.snap_many([(47.141, 9.521), (47.166, 9.509)])  # doctest: +SKIP
    >>> net.travel_matrix([shop, office], [shop, office]).seconds  # doctest: +SKIP

Map data © OpenStreetMap contributors (ODbL).
"""

from routing.network.businesses import extract_businesses
from routing.network.errors import (
    CorruptExtractError,
    ExtractNotFoundError,
    InvalidCoordinateError,
    NoDrivableRoadsError,
    PointOffNetworkError,
    RegionDownloadError,
    RoutingError,
    UnsupportedExtractError,
)
from routing.network.model import Business, RoutePath, Snap, TravelMatrix
from routing.network.network import RoadNetwork, validate_coordinate
from routing.network.region import default_cache_dir, load_place, load_region
from routing.network.speeds import DEFAULT_SPEED_PROFILE, SpeedProfile

__all__ = [
    "DEFAULT_SPEED_PROFILE",
    "Business",
    "CorruptExtractError",
    "ExtractNotFoundError",
    "InvalidCoordinateError",
    "NoDrivableRoadsError",
    "PointOffNetworkError",
    "RegionDownloadError",
    "RoadNetwork",
    "RoutePath",
    "RoutingError",
    "Snap",
    "SpeedProfile",
    "TravelMatrix",
    "UnsupportedExtractError",
    "default_cache_dir",
    "extract_businesses",
    "load_place",
    "load_region",
    "validate_coordinate",
]
