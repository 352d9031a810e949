"""The JSON a device receives through Web Push, kept within one 4096-byte record.

Why 3993 bytes: RFC 8291 encrypts the push message as a single aes128gcm record of at most 4096
octets, of which the header takes 86 (salt, record size, key id length, 65-byte key), the AEAD
tag 16 and the padding delimiter 1. Push services may reject anything larger (413), so a notice
that does not fit is shrunk step by step: long lists keep their first entries plus a count, long
strings are cut, and in the end only the headline remains. ``"truncated": true`` tells the
service worker to fetch the full notice from the inbox by ``event_id``/``cursor``.
"""

from __future__ import annotations

import json
from typing import Any

from notifications.events import Event

MAX_PLAINTEXT = 4096 - 86 - 16 - 1
"""Largest plaintext that fits one aes128gcm record with the RFC 8291 header (3993 bytes)."""

_ELLIPSIS = "…"


def _dumps(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def _shrink(value: Any, list_limit: int, text_limit: int) -> Any:
    if isinstance(value, str) and len(value) > text_limit:
        return value[:text_limit] + _ELLIPSIS
    if isinstance(value, list):
        return [_shrink(v, list_limit, text_limit) for v in value[:list_limit]]
    if isinstance(value, dict):
        shrunk: dict[str, Any] = {}
        for key, item in value.items():
            shrunk[key] = _shrink(item, list_limit, text_limit)
            if isinstance(item, list) and len(item) > list_limit:
                shrunk[f"{key}_total"] = len(item)
        return shrunk
    return value


def build_push_payload(
    event: Event, *, cursor: int | None = None, limit: int = MAX_PLAINTEXT
) -> tuple[bytes, bool]:
    """Render ``event`` as the push JSON, shrinking it to at most ``limit`` bytes.

    Args:
        event: The event to announce.
        cursor: The recipient's inbox cursor, so the device can fetch the full notice.
        limit: Byte budget of the plaintext.

    Returns:
        The UTF-8 JSON and whether anything was left out.
    """
    summary = event.details().summary()
    document: dict[str, Any] = {
        "v": 1,
        "event_id": event.id,
        "type": event.type.value,
        "title": summary.title,
        "body": summary.body,
        "occurred_at": event.occurred_at.isoformat(),
        "truncated": False,
        "data": dict(event.payload),
    }
    if cursor is not None:
        document["cursor"] = cursor
    encoded = _dumps(document)
    if len(encoded) <= limit:
        return encoded, False
    document["truncated"] = True
    for list_limit, text_limit in ((20, 200), (10, 120), (5, 80), (2, 40), (0, 20)):
        document["data"] = _shrink(dict(event.payload), list_limit, text_limit)
        encoded = _dumps(document)
        if len(encoded) <= limit:
            return encoded, True
    del document["data"]
    for key in ("body", "title"):
        encoded = _dumps(document)
        if len(encoded) <= limit:
            return encoded, True
        overflow = len(encoded) - limit
        text: str = document[key]
        keep = max(0, len(text.encode()) - overflow - len(_ELLIPSIS.encode()))
        document[key] = text.encode()[:keep].decode(errors="ignore") + _ELLIPSIS
    encoded = _dumps(document)
    if len(encoded) > limit:
        raise ValueError(f"push payload cannot fit {limit} bytes")
    return encoded, True


__all__ = ["MAX_PLAINTEXT", "build_push_payload"]
