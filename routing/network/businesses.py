"""Named businesses from an OSM extract: the prospects a field sales team calls on.

Shops, offices, crafts, health care and hospitality are mapped as nodes or as building
outlines (ways); both are read, a way placed at the mean of its nodes. Only named features
are returned, because an account without a name cannot be put in a CRM.
"""

from __future__ import annotations

from pathlib import Path

from routing.network._tagged import tagged_places
from routing.network.model import Business

#: Keys whose any value makes a business (``shop=bakery``, ``office=insurance``...).
BUSINESS_KEYS = ("shop", "office", "craft", "healthcare")
#: ``amenity``/``tourism`` values that are businesses (not benches, schools or toilets).
BUSINESS_AMENITIES = frozenset(
    {
        "pharmacy", "doctors", "dentist", "clinic", "hospital", "veterinary", "restaurant",
        "cafe", "bar", "pub", "fast_food", "ice_cream", "bank", "fuel", "car_wash",
        "car_rental", "driving_school", "marketplace", "nightclub", "cinema", "biergarten",
    }
)  # fmt: skip
BUSINESS_TOURISM = frozenset({"hotel", "motel", "guest_house", "hostel", "chalet"})
#: Institutions that field teams also call on (supplies, services): schools, town halls,
#: care homes, clubs. Returned only when ``institutions=True``.
INSTITUTION_AMENITIES = frozenset(
    {
        "school", "kindergarten", "college", "university", "townhall", "community_centre",
        "post_office", "library", "nursing_home", "social_facility", "theatre", "arts_centre",
        "fire_station", "police", "courthouse", "childcare", "music_school",
    }
)  # fmt: skip
INSTITUTION_LEISURE = frozenset({"sports_centre", "fitness_centre", "golf_course", "stadium"})


def business_kind(tags: dict[str, str], institutions: bool = False) -> str | None:
    """``"shop=bakery"`` for a business's tags, ``None`` for anything else."""
    for key in BUSINESS_KEYS:
        value = tags.get(key)
        if value and value != "no":
            return f"{key}={value}"
    amenity = tags.get("amenity")
    if amenity in BUSINESS_AMENITIES:
        return f"amenity={amenity}"
    tourism = tags.get("tourism")
    if tourism in BUSINESS_TOURISM:
        return f"tourism={tourism}"
    if institutions:
        if amenity in INSTITUTION_AMENITIES:
            return f"amenity={amenity}"
        leisure = tags.get("leisure")
        if leisure in INSTITUTION_LEISURE:
            return f"leisure={leisure}"
    return None


def format_address(tags: dict[str, str]) -> str | None:
    """``"Städtle 38, 9490 Vaduz"`` from ``addr:*`` tags, or ``None`` without a street/place."""
    street = tags.get("addr:street") or tags.get("addr:place")
    if not street:
        return tags.get("addr:full") or None
    line = f"{street} {tags['addr:housenumber']}" if tags.get("addr:housenumber") else street
    town = " ".join(part for part in (tags.get("addr:postcode"), tags.get("addr:city")) if part)
    return f"{line}, {town}" if town else line


def extract_businesses(path: Path, *, institutions: bool = False) -> list[Business]:
    """Named businesses (nodes and ways) of an extract, in file order.

    Raises:
        ExtractNotFoundError: ``path`` is not a file.
        UnsupportedExtractError: Unknown file type.
        CorruptExtractError: osmium cannot read the file.
    """
    found: list[Business] = []
    for place in tagged_places(path, "name"):
        kind = business_kind(place.tags, institutions)
        if kind is None:
            continue
        found.append(
            Business(
                osm_id=place.osm_id,
                name=place.tags["name"].strip(),
                lat=place.lat,
                lon=place.lon,
                kind=kind,
                opening_hours=place.tags.get("opening_hours") or None,
                address=format_address(place.tags),
            )
        )
    return found


__all__ = ["BUSINESS_AMENITIES", "BUSINESS_KEYS", "business_kind", "extract_businesses"]
