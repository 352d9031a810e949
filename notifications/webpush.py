"""Web Push delivery (RFC 8030 protocol, RFC 8291 encryption, RFC 8292 VAPID).

Why each policy:
    * 404/410: the subscription is gone for good (the user unsubscribed, the browser dropped
      it); the ``on_gone`` callback removes it so we stop paying for useless requests.
    * 429 and 503 with ``Retry-After``: the push service asks us to wait; we wait that long (up
      to ``max_retry_after``) or report :attr:`PushOutcome.RETRY_LATER` with the delay instead
      of hammering it.
    * 5xx and network errors: transient; retried with jittered exponential backoff.
    * Other 4xx: our request is wrong (bad VAPID, too large); retrying cannot help.
    * An endpoint the policy refuses (not a known push service, or a host that resolves to a
      private address, checked on the address actually connected to): rejected without a
      request, never retried (:mod:`notifications.push_endpoint`).
Encryption is pywebpush's (``WebPusher.encode``, aes128gcm); transport is one shared
``httpx.AsyncClient`` so connections to a push service are reused.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from pywebpush import WebPusher

from notifications._backoff import Backoff
from notifications.events import Event
from notifications.guarded_http import public_only_client
from notifications.push_endpoint import EndpointPolicy, EndpointRefusedError, check_endpoint
from notifications.push_payload import MAX_PLAINTEXT, build_push_payload
from notifications.vapid import VapidKeys

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PushSubscription:
    """A device's push subscription, as ``PushSubscription.toJSON()`` gives it.

    Attributes:
        endpoint: The push service URL for this device.
        p256dh: The device's P-256 public key (base64url, uncompressed point).
        auth: The device's 16-byte auth secret (base64url).
        user_id: Whose device; lets the store remove it.
    """

    endpoint: str
    p256dh: str
    auth: str
    user_id: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any], user_id: str | None = None) -> PushSubscription:
        """Parse the browser's ``{"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}``."""
        keys = data["keys"]
        return cls(str(data["endpoint"]), str(keys["p256dh"]), str(keys["auth"]), user_id)

    def info(self) -> dict[str, Any]:
        """Return the ``subscription_info`` mapping pywebpush expects."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


class PushOutcome(StrEnum):
    """How a push ended."""

    DELIVERED = "delivered"
    GONE = "gone"
    RETRY_LATER = "retry_later"
    FAILED = "failed"
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class PushResult:
    """What happened to one push.

    Attributes:
        subscription: The target device.
        outcome: The final verdict.
        status: The last HTTP status, ``None`` after a network error.
        attempts: Requests made.
        truncated: Whether the payload was shortened to fit the record size.
        retry_after: For :attr:`PushOutcome.RETRY_LATER`, the seconds the service asked for.
        waits: Seconds slept before each retry (backoff or ``Retry-After``).
        detail: Error text for logs.
    """

    subscription: PushSubscription
    outcome: PushOutcome
    status: int | None
    attempts: int
    truncated: bool = False
    retry_after: float | None = None
    waits: tuple[float, ...] = ()
    detail: str = ""

    @property
    def ok(self) -> bool:
        """Whether the push service accepted the message."""
        return self.outcome is PushOutcome.DELIVERED


GoneCallback = Callable[[PushSubscription], Awaitable[None]]
"""Removes a subscription the push service reported gone (404/410)."""


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Parse ``Retry-After`` as delta-seconds or an HTTP-date; ``None`` if absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


class WebPushSender:
    """Encrypts and sends notices to devices, applying the retry and removal policies.

    Args:
        vapid: Our VAPID keys.
        on_gone: Called with subscriptions answered 404/410.
        client: A shared ``httpx.AsyncClient``; one is created (and closed by :meth:`aclose`)
            if omitted.
        ttl: Seconds the push service keeps the message for an offline device.
        urgency: RFC 8030 ``Urgency`` (``very-low``, ``low``, ``normal``, ``high``).
        max_attempts: Requests per push, first one included.
        retry_base: First backoff delay, in seconds.
        retry_cap: Largest backoff delay, in seconds.
        max_retry_after: Longest ``Retry-After`` we wait inline; longer ones end the push as
            :attr:`PushOutcome.RETRY_LATER` so a caller can schedule it.
        timeout: Per-request timeout, in seconds.
        endpoint_policy: Which endpoints may be contacted; default: the known push services on
            public addresses only. Applies to the client this sender creates; a ``client``
            passed in is used as it is (the static checks still run).
    """

    def __init__(
        self,
        vapid: VapidKeys,
        *,
        on_gone: GoneCallback | None = None,
        client: httpx.AsyncClient | None = None,
        ttl: int = 24 * 3600,
        urgency: str = "normal",
        max_attempts: int = 4,
        retry_base: float = 0.5,
        retry_cap: float = 30.0,
        max_retry_after: float = 120.0,
        timeout: float = 10.0,
        endpoint_policy: EndpointPolicy | None = None,
    ) -> None:
        self.vapid = vapid
        self.on_gone = on_gone
        self.endpoint_policy = endpoint_policy or EndpointPolicy()
        self._client = client or public_only_client(self.endpoint_policy, timeout=timeout)
        self._owns_client = client is None
        self.ttl = ttl
        self.urgency = urgency
        self.max_attempts = max_attempts
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.max_retry_after = max_retry_after

    async def aclose(self) -> None:
        """Close the HTTP client if this sender created it."""
        if self._owns_client:
            await self._client.aclose()

    async def send_event(
        self, subscription: PushSubscription, event: Event, *, cursor: int | None = None
    ) -> PushResult:
        """Send the notice for ``event``; its id becomes the ``Topic`` so a repeat replaces it."""
        payload, truncated = build_push_payload(event, cursor=cursor)
        if truncated:
            log.info("push payload for event %s truncated to fit one record", event.id)
        return await self.send(
            subscription, payload, topic=event.id.replace("-", "")[:32], truncated=truncated
        )

    async def send_many(
        self,
        subscriptions: Sequence[PushSubscription],
        event: Event,
        *,
        cursor: int | None = None,
    ) -> list[PushResult]:
        """Send ``event`` to several devices concurrently."""
        return list(
            await asyncio.gather(*(self.send_event(s, event, cursor=cursor) for s in subscriptions))
        )

    async def send(
        self,
        subscription: PushSubscription,
        payload: bytes,
        *,
        topic: str | None = None,
        truncated: bool = False,
    ) -> PushResult:
        """Encrypt ``payload`` for the device and POST it, retrying per the policies.

        Raises:
            ValueError: If ``payload`` exceeds one record (use :meth:`send_event` to shrink).
        """
        if len(payload) > MAX_PLAINTEXT:
            raise ValueError(f"payload of {len(payload)} bytes exceeds {MAX_PLAINTEXT}")
        try:
            check_endpoint(subscription.endpoint, self.endpoint_policy)
        except EndpointRefusedError as exc:
            log.warning("push endpoint refused: %s", exc)
            return PushResult(
                subscription, PushOutcome.REJECTED, None, 0, truncated, detail=str(exc)
            )
        body = WebPusher(subscription.info()).encode(payload, "aes128gcm")["body"]
        headers = {
            "TTL": str(self.ttl),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Urgency": self.urgency,
        }
        if topic:
            headers["Topic"] = topic
        backoff = Backoff(self.retry_base, self.retry_cap)
        waits: list[float] = []
        status: int | None = None
        detail = ""

        def result(outcome: PushOutcome, **extra: Any) -> PushResult:
            return PushResult(
                subscription,
                outcome,
                status,
                len(waits) + 1,
                truncated,
                waits=tuple(waits),
                detail=detail,
                **extra,
            )

        while True:
            headers["Authorization"] = self.vapid.authorization(subscription.endpoint)
            retry_after: float | None = None
            try:
                response = await self._client.post(
                    subscription.endpoint, content=body, headers=headers
                )
            except EndpointRefusedError as exc:
                # Resolved to a private address at connect time (rebinding): never retried.
                log.warning("push endpoint refused at connect: %s", exc)
                status, detail = None, str(exc)
                return result(PushOutcome.REJECTED)
            except httpx.TransportError as exc:
                status, detail = None, repr(exc)
            else:
                status, detail = response.status_code, response.text[:200]
                if status in (200, 201, 202):
                    return result(PushOutcome.DELIVERED)
                if status in (404, 410):
                    await self._forget(subscription)
                    return result(PushOutcome.GONE)
                if status in (429, 503):
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
                elif status < 500:
                    log.warning("push rejected with %s: %s", status, detail)
                    return result(PushOutcome.REJECTED)
            attempts_left = len(waits) + 1 < self.max_attempts
            if retry_after is not None:
                if retry_after > self.max_retry_after or not attempts_left:
                    return result(PushOutcome.RETRY_LATER, retry_after=retry_after)
                delay = retry_after
            elif attempts_left:
                delay = backoff.next_delay()
            else:
                return result(PushOutcome.FAILED)
            waits.append(delay)
            await asyncio.sleep(delay)

    async def _forget(self, subscription: PushSubscription) -> None:
        if self.on_gone is None:
            return
        try:
            await self.on_gone(subscription)
        except Exception:
            log.exception("could not remove gone subscription %s", subscription.endpoint)


__all__ = [
    "GoneCallback",
    "PushOutcome",
    "PushResult",
    "PushSubscription",
    "WebPushSender",
    "parse_retry_after",
]
