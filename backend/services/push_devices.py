"""Registering a device for Web Push: the endpoint and keys are checked, devices capped per user.

Why each rule:
    * The endpoint is a URL the server will POST to, so it must be a known push service on a
      public address (:mod:`notifications.push_endpoint`); otherwise any logged-in user could
      aim the server at its own loopback or the private network (SSRF). A host our DNS cannot
      resolve right now is accepted: the browser just received it from that service, and the
      send-time check (on the connection's own address) refuses it if it ever resolves to a
      private one.
    * Keys are what the browser's ``PushSubscription.getKey`` gives: ``p256dh`` a P-256 point
      (65 bytes), ``auth`` a 16-byte secret, both base64url. Anything else cannot be encrypted
      to, and would only be stored.
    * At most ``push_max_devices_per_user`` devices per user. A rep who gets a new phone (or
      reinstalls the app) expects the new one to work at once, and the old phone is the one that
      is gone, so the oldest registration is dropped, not the new one refused.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.db.models import PushSubscriptionRecord
from backend.services.errors import Rejected
from notifications.push_endpoint import (
    EndpointPolicy,
    EndpointRefusedError,
    check_endpoint,
    resolve_public,
)

P256DH_BYTES = 65  # uncompressed P-256 point: 0x04 || X || Y
AUTH_BYTES = 16
RESOLVE_SECONDS = 3.0


def _b64url(value: str, field: str, size: int) -> bytes:
    if len(value) > 2 * size + 4:  # base64 of `size` bytes is 4/3 as long; refuse before decoding
        raise Rejected.bad_input(field, f"{field} is longer than a {size}-byte key")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise Rejected.bad_input(field, f"{field} is not base64url") from None
    if len(raw) != size:
        raise Rejected.bad_input(field, f"{field} must be {size} bytes, got {len(raw)}")
    return raw


def check_keys(p256dh: str, auth: str) -> None:
    """Refuse keys a browser would never send (wrong size, not a point on P-256)."""
    point = _b64url(p256dh, "subscription.p256dh", P256DH_BYTES)
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), point)
    except ValueError:
        raise Rejected.bad_input(
            "subscription.p256dh", "subscription.p256dh is not a P-256 public key"
        ) from None
    _b64url(auth, "subscription.auth", AUTH_BYTES)


async def check_endpoint_reachable(endpoint: str, policy: EndpointPolicy) -> None:
    """Static rules, then the addresses the host resolves to (see the module docstring)."""
    try:
        target = check_endpoint(endpoint, policy)
        await resolve_public(target.host, target.port, policy, timeout=RESOLVE_SECONDS)
    except EndpointRefusedError as exc:
        raise Rejected.bad_input("subscription.endpoint", str(exc)) from None
    except OSError:
        return  # unresolvable now: accepted, the connection-time check decides (docstring)


async def register_device(
    session: AsyncSession,
    *,
    user_id: int,
    endpoint: str,
    p256dh: str,
    auth: str,
    policy: EndpointPolicy,
    max_devices: int,
) -> None:
    """Store ``user_id``'s device (replacing the same endpoint of anyone) and trim to the cap.

    The caller commits. An endpoint is one device's push channel: if another user registered
    it before (the phone changed hands), the new login takes it over, so the previous user's
    notices stop arriving on a device they no longer hold.

    Raises:
        Rejected: ``BAD_INPUT`` naming ``subscription.endpoint``, ``.p256dh`` or ``.auth``.
    """
    check_keys(p256dh, auth)
    await check_endpoint_reachable(endpoint, policy)
    record = PushSubscriptionRecord
    await session.execute(delete(record).where(record.endpoint == endpoint))
    session.add(record(user_id=user_id, endpoint=endpoint, p256dh=p256dh, auth=auth))
    await session.flush()
    # Ids grow with registration time: the newest `max_devices` of the user stay.
    newest = (
        select(record.id)
        .where(record.user_id == user_id)
        .order_by(record.id.desc())
        .limit(max_devices)
    )
    kept = (await session.execute(newest)).scalars().all()
    await session.execute(delete(record).where(record.user_id == user_id, record.id.not_in(kept)))


__all__ = [
    "AUTH_BYTES",
    "P256DH_BYTES",
    "check_endpoint_reachable",
    "check_keys",
    "register_device",
]
