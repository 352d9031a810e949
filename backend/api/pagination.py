"""Relay-style cursor pagination with opaque cursors over a stable (sort key, id) order."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from backend.api.errors import bad_input


def encode_cursor(*key: Any) -> str:
    """Opaque cursor from the sort key of the last row."""
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int) -> list[Any]:
    """Inverse of :func:`encode_cursor`; a malformed cursor is a BAD_USER_INPUT on ``after``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise bad_input("after", "malformed cursor; use an endCursor from a previous page") from exc
    if not isinstance(key, list) or len(key) != arity:
        raise bad_input("after", "malformed cursor; use an endCursor from a previous page")
    return key


def check_page_size(first: int, maximum: int) -> int:
    """``first`` must be 1..maximum."""
    if first < 1 or first > maximum:
        raise bad_input("first", f"first must be between 1 and {maximum}, got {first}")
    return first
