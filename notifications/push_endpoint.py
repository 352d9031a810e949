"""Which Web Push endpoints the server may connect to (SSRF defence).

A push endpoint is a URL the *browser* hands us and we later POST to, so a caller with a token
can make the server open connections wherever it says: the loopback admin port, the cloud
metadata address, a database on the private network. The checks, and why each:

* **Static** (:func:`check_endpoint`, at registration and again before each send): at most
  :data:`MAX_ENDPOINT_LENGTH` characters; ``https`` on port 443 (every browser's push service
  uses exactly that); no user name or password in the URL; the host on the allowlist of push
  services (:data:`KNOWN_PUSH_SERVICES` by default: the services Chrome/Edge/Opera/Samsung,
  Firefox, Safari and Windows use); an IP-literal host only if it is listed and public.
* **Addresses** (:func:`resolve_public`): every address the host resolves to must be public
  (not private, loopback, link-local, multicast, reserved, unspecified, shared CGNAT or an
  IPv4-mapped/6to4/Teredo wrapper of one). At registration this refuses an obviously bad
  host; at send time the check runs inside the connection (:mod:`notifications.guarded_http`)
  on the very address connected to, so a name that resolved to a public address at
  registration and to ``127.0.0.1`` later (DNS rebinding) is still refused.

Development and tests run a loopback push service; :attr:`EndpointPolicy.allow_private` lifts
the address, scheme and port rules for them. The backend refuses it in production.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_ENDPOINT_LENGTH = 2048
"""Real endpoints are 150-500 characters (FCM's are the longest)."""

KNOWN_PUSH_SERVICES: tuple[str, ...] = (
    "fcm.googleapis.com",  # Chrome, Edge, Opera, Samsung Internet, Brave
    "android.googleapis.com",  # older Chrome subscriptions (GCM)
    "updates.push.services.mozilla.com",  # Firefox
    "web.push.apple.com",  # Safari (macOS 13+, iOS 16.4+)
    "*.push.apple.com",
    "*.notify.windows.com",  # Edge legacy and Windows (WNS)
)
"""Hosts of the browsers' push services; ``*.`` matches any subdomain. ``*`` alone: any."""

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT; not is_private in 3.11


class EndpointRefusedError(ValueError):
    """The endpoint is not one the server may connect to; the message says why."""


@dataclass(frozen=True, slots=True)
class EndpointPolicy:
    """Rules for push endpoints.

    Attributes:
        allowed_hosts: Host names (``*.suffix`` for subdomains, ``*`` for any public host).
        allow_private: Development and tests only: also accept private and loopback addresses,
            ``http`` and any port (a push service on loopback).
        max_length: Longest endpoint accepted, in characters.
    """

    allowed_hosts: tuple[str, ...] = KNOWN_PUSH_SERVICES
    allow_private: bool = False
    max_length: int = MAX_ENDPOINT_LENGTH

    def host_allowed(self, host: str) -> bool:
        """Whether ``host`` (lower case, no trailing dot) matches the allowlist."""
        for entry in self.allowed_hosts:
            pattern = entry.strip().lower().rstrip(".")
            if pattern in ("*", host):
                return True
            if pattern.startswith("*.") and host.endswith(pattern[1:]):
                return True
        return False


@dataclass(frozen=True, slots=True)
class EndpointTarget:
    """Where an accepted endpoint points."""

    host: str
    port: int


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether ``address`` is on the public internet (both IPv4 and IPv6).

    IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, 6to4, Teredo) are judged
    by the address they carry: ``::ffff:127.0.0.1`` is loopback.
    """
    if isinstance(address, ipaddress.IPv6Address):
        carried = address.ipv4_mapped or address.sixtofour
        if carried is None and address.teredo is not None:
            carried = address.teredo[1]
        if carried is not None:
            return is_public_address(carried)
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return False
    return address.is_global and not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None


def check_endpoint(endpoint: str, policy: EndpointPolicy) -> EndpointTarget:
    """Apply the static rules to ``endpoint``; return its host and port.

    Raises:
        EndpointRefusedError: With the reason, fit to show the caller.
    """
    if len(endpoint) > policy.max_length:
        raise EndpointRefusedError(f"a push endpoint is at most {policy.max_length} characters")
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in endpoint):
        raise EndpointRefusedError("a push endpoint has no spaces or control characters")
    try:
        parts: SplitResult = urlsplit(endpoint)
        port = parts.port
    except ValueError as exc:
        raise EndpointRefusedError(f"not a URL: {exc}") from None
    schemes = ("https", "http") if policy.allow_private else ("https",)
    if parts.scheme not in schemes:
        raise EndpointRefusedError("push endpoints must be https URLs")
    if parts.username is not None or parts.password is not None:
        raise EndpointRefusedError("a push endpoint carries no user name or password")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise EndpointRefusedError("the push endpoint has no host")
    default_port = 443 if parts.scheme == "https" else 80
    port = default_port if port is None else port
    if port != 443 and not policy.allow_private:
        raise EndpointRefusedError("push services listen on port 443")
    literal = _ip_literal(host)
    if literal is not None and not policy.allow_private and not is_public_address(literal):
        raise EndpointRefusedError(f"{host} is not a public address")
    if not policy.host_allowed(host):
        raise EndpointRefusedError(
            f"{host} is not a known push service (allowed: {', '.join(policy.allowed_hosts)})"
        )
    return EndpointTarget(host, port)


async def resolve_public(
    host: str,
    port: int,
    policy: EndpointPolicy,
    *,
    timeout: float = 5.0,  # noqa: ASYNC109 - bounds DNS only, callers pass their budget
) -> Sequence[str]:
    """Resolve ``host`` and return its addresses, refusing if any is not public.

    *Any*, not *all*: a name with one private address among public ones is how rebinding
    attacks are staged, and no push service publishes one.

    Raises:
        EndpointRefusedError: The host resolves to a non-public address.
        OSError: The name does not resolve (``socket.gaierror``) or resolution timed out.
    """
    literal = _ip_literal(host)
    if literal is not None:
        found = [str(literal)]
    else:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
            )
        except TimeoutError as exc:
            raise OSError(f"resolving {host} timed out") from exc
        found = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not policy.allow_private:
        for address in found:
            parsed = _ip_literal(address)
            if parsed is None or not is_public_address(parsed):
                raise EndpointRefusedError(f"{host} resolves to {address}, not a public address")
    return found


__all__ = [
    "KNOWN_PUSH_SERVICES",
    "MAX_ENDPOINT_LENGTH",
    "EndpointPolicy",
    "EndpointRefusedError",
    "EndpointTarget",
    "check_endpoint",
    "is_public_address",
    "resolve_public",
]
