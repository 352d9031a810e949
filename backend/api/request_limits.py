"""Per-address limits: every request to ``/graphql`` and ``/auth``, and login attempts.

Why: the per-user cost budget only starts once a caller has a token, and the per e-mail login
limit lets one address try every e-mail in turn. So each client address (see
``client_address.py`` for which address that is) gets two leaky buckets:

- requests: ``FIELDREP_ADDRESS_REQUESTS_PER_MINUTE`` (default 1,200, i.e. 20/s sustained) with
  bursts of ``FIELDREP_ADDRESS_REQUEST_BURST`` (600); over it, 429 with Retry-After;
- logins: ``FIELDREP_LOGIN_ATTEMPTS_PER_ADDRESS_PER_5MIN`` (20) attempts per five minutes,
  whatever the e-mail; a successful login gives its attempt back, so an office behind one NAT
  address can log everyone in while guessing still runs dry.

IPv6 clients are counted per /64 (one subscriber usually holds a whole /64). Addresses in
``FIELDREP_RATE_LIMIT_EXEMPT`` (e.g. a load generator on loopback) skip both; the per
address-and-e-mail login limit still applies to them.

With ``FIELDREP_REDIS_URL`` the buckets live in Redis (every process shares them). If Redis is
unreachable, each process limits on its own (:class:`FallbackRedisBucket`) and logs a warning
once per outage: the limits loosen to one budget per process, they never switch off.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import HTTPException, status
from redis.exceptions import RedisError
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.api.client_address import Network, in_networks, parse_networks
from backend.api.limits import Bucket, MemoryBucket, RedisBucket

if TYPE_CHECKING:
    from backend.runtime import Runtime

log = logging.getLogger(__name__)
#: Paths the request limit covers (the PWA's static files are not counted).
LIMITED_PREFIXES = ("/graphql", "/auth")
LOGIN_WINDOW_S = 300.0
#: After Redis fails, the in-process fallback is used this long before Redis is tried again
#: (a Redis that hangs would otherwise cost every request its socket timeout).
REDIS_RETRY_S = 5.0


class PrunedMemoryBucket(MemoryBucket):
    """:class:`MemoryBucket` that forgets drained keys once it holds ``max_keys`` of them.

    Per-address keys come from the network; without pruning, a flood from many addresses (an
    IPv6 range) would grow the dictionary forever.
    """

    def __init__(self, capacity: float, per_second: float, max_keys: int = 100_000) -> None:
        super().__init__(capacity, per_second)
        self.max_keys = max_keys

    async def take(self, key: str, cost: float) -> tuple[bool, float, float]:
        if len(self._levels) >= self.max_keys:
            now = time.monotonic()
            self._levels = {
                k: (level, stamp)
                for k, (level, stamp) in self._levels.items()
                if level - (now - stamp) * self.per_second > 0
            }
        return await super().take(key, cost)


class FallbackRedisBucket(RedisBucket):
    """A Redis leaky bucket that limits in-process while Redis is unreachable.

    The plain :class:`RedisBucket` allows everything when Redis fails (fail open), which turned
    the login limiter off whenever Redis was down. Here the same budget is kept per process in
    memory instead, with one warning when the outage starts and one when Redis is back.
    """

    def __init__(self, client: Any, capacity: float, per_second: float, prefix: str) -> None:
        super().__init__(client, capacity, per_second, prefix)
        self.fallback = PrunedMemoryBucket(capacity, per_second)
        self._retry_at = 0.0
        self.redis_down = False

    async def take(self, key: str, cost: float) -> tuple[bool, float, float]:
        now = time.monotonic()
        if now < self._retry_at:
            return await self.fallback.take(key, cost)
        try:
            allowed, remaining, retry = await self._script(
                keys=[f"{self._prefix}:{key}"],
                args=[time.time(), self.per_second, self.capacity, cost],
            )
        except (RedisError, OSError) as exc:
            if not self.redis_down:
                log.warning(
                    "rate limiter %s: Redis unreachable (%s); limiting in this process only "
                    "until it is back",
                    self._prefix,
                    exc,
                )
            self.redis_down = True
            self._retry_at = now + REDIS_RETRY_S
            return await self.fallback.take(key, cost)
        if self.redis_down:
            log.warning("rate limiter %s: Redis is back; limits are shared again", self._prefix)
            self.redis_down = False
        return bool(int(allowed)), float(remaining), float(retry)


def address_key(host: str) -> str:
    """The bucket key of a client address: IPv6 by its /64, IPv4 as is, names unchanged."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def exempt_networks(runtime: Runtime) -> tuple[Network, ...]:
    """``FIELDREP_RATE_LIMIT_EXEMPT`` parsed once per runtime."""
    networks = runtime.extras.get("rate_limit_exempt")
    if networks is None:
        networks = parse_networks(runtime.settings.rate_limit_exempt)
        runtime.extras["rate_limit_exempt"] = networks
    return networks  # type: ignore[no-any-return]


def is_exempt(runtime: Runtime, host: str) -> bool:
    """True when ``host`` skips the per-address limits (an exempt network)."""
    return in_networks(host, exempt_networks(runtime))


def login_address_bucket(runtime: Runtime) -> Bucket | None:
    """Login attempts per client address, or None when the limit is switched off (0)."""
    attempts = float(runtime.settings.login_attempts_per_address_per_5min)
    if attempts <= 0:
        return None
    return runtime.bucket("fieldrep:login-address", attempts, attempts / LOGIN_WINDOW_S)


def request_address_bucket(runtime: Runtime) -> Bucket | None:
    """Requests per client address, or None when the limit is switched off (0)."""
    per_minute = float(runtime.settings.address_requests_per_minute)
    if per_minute <= 0:
        return None
    burst = float(runtime.settings.address_request_burst)
    return runtime.bucket("fieldrep:requests", burst, per_minute / 60.0)


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` value: whole seconds, at least 1."""
    return str(max(1, round(seconds + 0.5)))


def _too_many_logins(retry: float) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail={"code": "RATE_LIMITED", "message": "too many login attempts; wait and retry"},
        headers={"Retry-After": retry_after(retry)},
    )


async def admit_login(runtime: Runtime, host: str, email: str) -> None:
    """Charge one login attempt to ``host`` and to ``host`` + ``email``.

    Raises:
        HTTPException: 429 with Retry-After when either budget is spent (checked before any
            password hashing, so refused floods cost almost nothing).
    """
    key = address_key(host)
    per_address = None if is_exempt(runtime, host) else login_address_bucket(runtime)
    if per_address is not None:
        allowed, _remaining, retry = await per_address.take(key, 1.0)
        if not allowed:
            raise _too_many_logins(retry)
    allowed, _remaining, retry = await runtime.login_bucket.take(f"{key}:{email}", 1.0)
    if not allowed:
        raise _too_many_logins(retry)


async def login_succeeded(runtime: Runtime, host: str) -> None:
    """Give the address its attempt back: only failures drain the per-address budget."""
    per_address = None if is_exempt(runtime, host) else login_address_bucket(runtime)
    if per_address is not None:
        await per_address.take(address_key(host), -1.0)


class AddressRequestLimit:
    """ASGI middleware: 429 + Retry-After once a client address spends its request budget."""

    def __init__(
        self, app: ASGIApp, runtime: Runtime, prefixes: tuple[str, ...] = LIMITED_PREFIXES
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        bucket = request_address_bucket(self.runtime)
        host = (scope.get("client") or ("unknown", 0))[0]
        if bucket is None or is_exempt(self.runtime, host):
            await self.app(scope, receive, send)
            return
        allowed, _remaining, retry = await bucket.take(address_key(host), 1.0)
        if allowed:
            await self.app(scope, receive, send)
            return
        wait = retry_after(retry)
        body = orjson.dumps(
            {
                "code": "RATE_LIMITED",
                "retryAfter": int(wait),
                "message": f"too many requests from your address; retry in {wait} s",
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"retry-after", wait.encode()),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


__all__ = [
    "LIMITED_PREFIXES",
    "AddressRequestLimit",
    "FallbackRedisBucket",
    "PrunedMemoryBucket",
    "address_key",
    "admit_login",
    "is_exempt",
    "login_address_bucket",
    "login_succeeded",
    "request_address_bucket",
    "retry_after",
]
