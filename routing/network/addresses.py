"""Offline geocoding of street addresses from the region's own OSM extract.

Why: ops admins import accounts from CRMs that often hold addresses but no coordinates, and
fieldrep runs without internet access to a geocoding service. The extract the road network is
built from carries ``addr:*`` tags on buildings and entrances, so an exact "street + house
number" lookup answers most rows with the building's position, and says why when it cannot
(unknown street, unknown number on a known street, the same address in two towns).

Matching is deliberately exact on street and house number, after normalization of spelling
variants ("Strasse", "Straße", "Str."), and uses the postcode or town only to tell apart the
same street name in several municipalities: a geocoder that guesses puts accounts in the wrong
village, which is worse than a row the admin fixes.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from routing.network._tagged import tagged_places

SAME_BUILDING_M = 150.0
"""Candidates closer than this are one place tagged twice (a building and its entrance)."""

_NUMBER_AT_END = re.compile(
    r"^(?P<street>.*?)[\s,]+(?P<number>\d+\s*[a-zA-Z]?(?:[-/]\d+[a-zA-Z]?)?)$"
)
_POSTCODE = re.compile(r"\b(\d{4,5})\b")
_COUNTRY_WORDS = {"li", "fl", "ch", "at", "de", "liechtenstein", "schweiz", "switzerland"}


class AddressNotFoundError(LookupError):
    """The address is not in the map data; the message says what was found instead."""


@dataclass(frozen=True, slots=True)
class AddressPoint:
    """One addressed place of the extract."""

    street: str
    housenumber: str
    postcode: str | None
    city: str | None
    lat: float
    lon: float


def street_key(street: str) -> str:
    """Spelling-insensitive form of a street name: "Josef-Rheinberger-Str." and
    "josef rheinberger strasse" compare equal."""
    text = _fold(street)
    text = re.sub(r"str\.?$", "strasse", text.strip())
    text = re.sub(r"str\.?(?=\s)", "strasse", text)
    return re.sub(r"[\s\-.']+", "", text)


def _fold(text: str) -> str:
    """Case and umlaut spelling folded: "Städtle" and "STAEDTLE" compare equal."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("ß", "ss")
    return text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue")


def number_key(number: str) -> str:
    """House numbers without spaces and case: "4 A" and "4a" compare equal."""
    return re.sub(r"\s+", "", number).casefold()


def _town_key(town: str) -> str:
    return re.sub(r"[\s\-.']+", "", _fold(town))


@dataclass(frozen=True, slots=True)
class ParsedAddress:
    """A CRM address split into what the lookup needs."""

    street: str
    housenumber: str
    postcode: str | None
    towns: tuple[str, ...]


def parse_address(text: str) -> ParsedAddress | None:
    """``"Städtle 38, 9490 Vaduz, LI"`` -> street, number, postcode, town words; ``None``
    when the first part has no house number."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        return None
    match = _NUMBER_AT_END.match(parts[0])
    if match is None:
        return None
    postcode = None
    towns: list[str] = []
    for part in parts[1:]:
        code = _POSTCODE.search(part)
        if code and postcode is None:
            postcode = code.group(1)
        words = _POSTCODE.sub(" ", part).strip()
        if words and _town_key(words) not in _COUNTRY_WORDS:
            towns.append(words)
    return ParsedAddress(match["street"].strip(), match["number"], postcode, tuple(towns))


def _distance_m(a: AddressPoint, b: AddressPoint) -> float:
    dlat = math.radians(b.lat - a.lat)
    dlon = math.radians(b.lon - a.lon) * math.cos(math.radians((a.lat + b.lat) / 2))
    return 6_371_000.0 * math.hypot(dlat, dlon)


class AddressIndex:
    """Exact street + house number lookup over the addressed places of an extract.

    Call it with an address line to get ``(lat, lon)``; it raises
    :class:`AddressNotFoundError` with the reason when it cannot answer (the account import
    reports that reason on the row).
    """

    def __init__(self, points: list[AddressPoint]) -> None:
        self._by_key: dict[tuple[str, str], list[AddressPoint]] = defaultdict(list)
        self._numbers: dict[str, set[str]] = defaultdict(set)
        for point in points:
            key = street_key(point.street)
            self._by_key[(key, number_key(point.housenumber))].append(point)
            self._numbers[key].add(point.housenumber)
        self.size = len(points)

    @classmethod
    def from_extract(cls, path: Path) -> AddressIndex:
        """Read every node and way with ``addr:housenumber`` and a street (or place).

        Raises:
            ExtractNotFoundError: ``path`` is not a file.
            UnsupportedExtractError: Unknown file type.
            CorruptExtractError: osmium cannot read the file.
        """
        points: list[AddressPoint] = []
        for place in tagged_places(path, "addr:housenumber"):
            tags = place.tags
            street = tags.get("addr:street") or tags.get("addr:place")
            if street:
                points.append(
                    AddressPoint(
                        street,
                        tags["addr:housenumber"],
                        tags.get("addr:postcode"),
                        tags.get("addr:city"),
                        place.lat,
                        place.lon,
                    )
                )
        return cls(points)

    def __call__(self, text: str) -> tuple[float, float]:
        """``(lat, lon)`` of ``text``.

        Raises:
            AddressNotFoundError: Not found, or found in several towns; the message says which.
        """
        parsed = parse_address(text)
        if parsed is None:
            raise AddressNotFoundError(
                f"{text!r} has no house number after the street; give 'Street 12, postcode town'"
            )
        key = street_key(parsed.street)
        candidates = self._by_key.get((key, number_key(parsed.housenumber)), [])
        if not candidates:
            known = self._numbers.get(key)
            if known:
                shown = ", ".join(sorted(known, key=_natural)[:8])
                raise AddressNotFoundError(
                    f"{parsed.street} has no number {parsed.housenumber} in the map data "
                    f"(numbers there include {shown})"
                )
            raise AddressNotFoundError(f"no street {parsed.street!r} in the region's map data")
        places = _places(candidates)
        agreeing = [p for p in places if p.agrees(parsed)]
        if not agreeing:
            towns = sorted({p.label for p in places})
            raise AddressNotFoundError(
                f"{parsed.street} {parsed.housenumber} is in {', '.join(towns)}, "
                f"not in {', '.join(parsed.towns) or parsed.postcode}"
            )
        if len(agreeing) > 1:
            towns = sorted({p.label for p in agreeing})
            raise AddressNotFoundError(
                f"{parsed.street} {parsed.housenumber} exists in several places "
                f"({', '.join(towns)}); add the postcode or town"
            )
        return agreeing[0].position


@dataclass
class _Place:
    """Candidates within ``SAME_BUILDING_M`` of each other: one building, perhaps tagged on its
    outline and its entrance, with the postcode on one and the town on the other."""

    points: list[AddressPoint]

    @property
    def postcodes(self) -> set[str]:
        return {p.postcode for p in self.points if p.postcode}

    @property
    def towns(self) -> set[str]:
        return {_town_key(p.city) for p in self.points if p.city}

    @property
    def label(self) -> str:
        postcodes = sorted(self.postcodes)
        cities = sorted({p.city for p in self.points if p.city})
        return " ".join(postcodes + cities) or "a place without a town"

    @property
    def position(self) -> tuple[float, float]:
        n = len(self.points)
        return (sum(p.lat for p in self.points) / n, sum(p.lon for p in self.points) / n)

    def agrees(self, parsed: ParsedAddress) -> bool:
        """No postcode or town of this place contradicts the address (unknown ones agree)."""
        if parsed.postcode and self.postcodes and parsed.postcode not in self.postcodes:
            return False
        wanted = {_town_key(t) for t in parsed.towns}
        return not (wanted and self.towns and not wanted & self.towns)


def _places(candidates: list[AddressPoint]) -> list[_Place]:
    """Group candidates into places (single linkage at ``SAME_BUILDING_M``)."""
    places: list[_Place] = []
    for point in candidates:
        near = [
            p for p in places if any(_distance_m(point, q) <= SAME_BUILDING_M for q in p.points)
        ]
        merged = _Place([point] + [q for p in near for q in p.points])
        places = [p for p in places if p not in near] + [merged]
    return places


def lazy_address_index(path: Path) -> Callable[[str], tuple[float, float]]:
    """A geocoder that reads ``path``'s addresses on its first lookup, once: most CRM rows
    carry coordinates, and an import that needs no lookup should not read the extract."""
    index: list[AddressIndex] = []

    def lookup(text: str) -> tuple[float, float]:
        if not index:
            index.append(AddressIndex.from_extract(path))
        return index[0](text)

    return lookup


def _natural(number: str) -> tuple[int, str]:
    digits = re.match(r"\d+", number)
    return (int(digits.group()) if digits else 0, number)


__all__ = [
    "AddressIndex",
    "AddressNotFoundError",
    "AddressPoint",
    "ParsedAddress",
    "lazy_address_index",
    "number_key",
    "parse_address",
    "street_key",
]
