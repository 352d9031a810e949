"""Compact JSON for the notification wire formats (Stream entries, announcements), via orjson.

Why orjson: a realignment sends every event through JSON five times (outbox, Stream, inbox,
announcement, socket), a thousand events at once; orjson does that several times faster than
the standard library, in the same UTF-8, compact form.
"""

from __future__ import annotations

from typing import Any

import orjson

JSONDecodeError = orjson.JSONDecodeError
"""Raised by :func:`loads` on invalid JSON (a subclass of ``json.JSONDecodeError``)."""

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any, *, sort_keys: bool = False) -> str:
    """Compact JSON text; ``sort_keys`` gives equal bytes for equal values."""
    options = _OPTIONS | orjson.OPT_SORT_KEYS if sort_keys else _OPTIONS
    return orjson.dumps(value, option=options).decode()


def loads(text: str | bytes) -> Any:
    """Parse JSON text or UTF-8 bytes."""
    return orjson.loads(text)


__all__ = ["JSONDecodeError", "dumps", "loads"]
