"""Fixtures for the road-network tests: the bundled extracts, built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing.network import RoadNetwork, load_region

DATA = Path(__file__).resolve().parents[2] / "routing" / "data"
LIECHTENSTEIN = DATA / "liechtenstein.osm.pbf"
MONACO = DATA / "monaco.osm.pbf"


@pytest.fixture(scope="session")
def network_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache directory private to this test session (never the user's cache)."""
    return tmp_path_factory.mktemp("routing-cache")


@pytest.fixture(scope="session")
def li_net(network_cache: Path) -> RoadNetwork:
    """Liechtenstein's drivable network, built from the bundled extract once per session."""
    return load_region(LIECHTENSTEIN, cache_dir=network_cache)
