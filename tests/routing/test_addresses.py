"""Offline geocoding from the bundled Liechtenstein extract's ``addr:*`` tags."""

from __future__ import annotations

import functools

import pytest

from backend.settings import bundled_region_path
from routing.network.addresses import (
    AddressIndex,
    AddressNotFoundError,
    parse_address,
    street_key,
)


@functools.cache
def _index() -> AddressIndex:
    return AddressIndex.from_extract(bundled_region_path())


def test_an_exact_address_is_placed_at_its_building() -> None:
    lat, lon = _index()("Städtle 43, 9490 Vaduz, LI")
    # Städtle 43 (the Landesmuseum's street in Vaduz centre): within a few hundred metres.
    assert 47.136 < lat < 47.140 and 9.520 < lon < 9.525


def test_spelling_variants_find_the_same_place() -> None:
    exact = _index()("Josef Murr Weg 4, 9493 Mauren")
    assert _index()("Josef-Murr-Weg 4") == exact
    assert _index()("Staedtle 43") == _index()("STÄDTLE 43")
    assert street_key("Feldkircher Str.") == street_key("Feldkircherstrasse")


def test_the_town_tells_apart_and_contradicts() -> None:
    schaan = _index()("Landstrasse 48, 9494 Schaan")
    assert _index()("Landstrasse 48") == schaan  # one building, whatever its tags say
    with pytest.raises(AddressNotFoundError, match=r"is in 9494 Schaan, not in Vaduz"):
        _index()("Landstrasse 48, 9490 Vaduz")


def test_misses_say_what_the_map_has() -> None:
    with pytest.raises(AddressNotFoundError, match=r"Städtle has no number 999 .*43"):
        _index()("Städtle 999, Vaduz")
    with pytest.raises(AddressNotFoundError, match=r"no street 'Nowhere'"):
        _index()("Nowhere 1, 9490 Vaduz")
    with pytest.raises(AddressNotFoundError, match="no house number"):
        _index()("Städtle, Vaduz")


def test_parse_keeps_postcode_and_town_and_drops_the_country() -> None:
    parsed = parse_address("Feldkircher Strasse 100a, 9494 Schaan, Liechtenstein")
    assert parsed is not None
    assert (parsed.street, parsed.housenumber, parsed.postcode, parsed.towns) == (
        "Feldkircher Strasse",
        "100a",
        "9494",
        ("Schaan",),
    )
