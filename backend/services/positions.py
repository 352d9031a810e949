"""Validation of positions sent by phones: finite, on the globe.

GraphQL ``Float`` cannot carry NaN in JSON, but Python's JSON parser accepts ``NaN`` and
``Infinity`` literals and a literal such as ``1e400`` parses to infinity, so the values are
checked here whatever the transport let through.
"""

from __future__ import annotations

import math


def coordinate_problem(lat: object, lon: object) -> tuple[str, str] | None:
    """``(which, message)`` for the first bad coordinate, or ``None`` when both are valid."""
    for name, value, limit in (("lat", lat, 90.0), ("lon", lon, 180.0)):
        if isinstance(value, bool) or not isinstance(value, int | float):
            return name, f"{name} must be a number, got {value!r}"
        if not math.isfinite(value):
            return name, f"{name} must be a finite number, got {value!r}"
        if not -limit <= value <= limit:
            return name, f"{name} must be between -{limit:g} and {limit:g}, got {value!r}"
    return None


def finite_non_negative(value: float) -> bool:
    """True for a finite number >= 0 (accuracies, radii)."""
    return math.isfinite(value) and value >= 0


__all__ = ["coordinate_problem", "finite_non_negative"]
