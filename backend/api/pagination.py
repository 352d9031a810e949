"""Relay-style cursor pagination with opaque cursors over a stable (sort key, id) order."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

from backend.api.errors import bad_input
from backend.api.input_guard import string_problem


def encode_cursor(*key: Any) -> str:
    """Opaque cursor from the sort key of the last row."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


MAX_CURSOR_CHARS = 4096
"""Longer than any cursor this API issues (a sort key of one row and its id)."""
_MALFORMED = "malformed cursor; use an endCursor from a previous page"


def _plain_key_part(value: Any) -> bool:
    """What :func:`encode_cursor` writes: text, finite numbers, 32-bit integers (row ids).

    A tampered cursor could otherwise carry ``1e999`` (infinity), ``NaN``, ``true`` or an
    integer beyond the database's INTEGER range into the keyset comparison.
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -(2**31) <= value < 2**31
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str) and string_problem(value) is None


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """Inverse of :func:`encode_cursor`; a malformed cursor is a BAD_USER_INPUT on ``after``."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise bad_input("after", _MALFORMED)
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeError, RecursionError) as exc:
        raise bad_input("after", _MALFORMED) from exc
    if not isinstance(key, list) or len(key) != arity or not all(map(_plain_key_part, key)):
        raise bad_input("after", _MALFORMED)
    return key


def check_page_size(first: int, maximum: int) -> int:
    """``first`` must be 1..maximum."""
    if first < 1 or first > maximum:
        raise bad_input("first", f"first must be between 1 and {maximum}, got {first}")
    return first
