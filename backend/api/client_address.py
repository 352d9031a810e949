"""Which address is the client? ``X-Forwarded-For`` counts only when a configured proxy sent it.

Why: per-address limits (logins, requests) key on the client's address. If any caller could name
its own address in ``X-Forwarded-For``, each request could claim a fresh one and no limit would
ever bite; uvicorn's default trusts the header from every local process. So fieldrep starts
uvicorn without proxy headers and resolves the address here, from ``FIELDREP_TRUSTED_PROXIES``
(addresses or networks, default none):

- the peer is not a trusted proxy: the peer is the client, whatever the headers say;
- the peer is a trusted proxy: walk ``X-Forwarded-For`` from the right (each proxy appends the
  address it saw) past further trusted proxies; the first untrusted hop is the client. A
  malformed hop stops the walk at the last proxy we trust.

``X-Forwarded-Proto`` from a trusted proxy sets the scheme (TLS ends at the proxy).

Example:
    >>> trusted = parse_networks(["10.0.0.0/8"])
    >>> resolve_client("10.0.0.5", "198.51.100.7, 10.0.0.9", trusted)
    '198.51.100.7'
    >>> resolve_client("203.0.113.1", "198.51.100.7", trusted)
    '203.0.113.1'
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``["10.0.0.0/8", "::1"]`` -> networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = text.strip()
    if value.startswith("[") and "]" in value:  # [2001:db8::1]:443
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # 198.51.100.7:443
        value = value.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def in_networks(host: str | None, networks: Sequence[Network]) -> bool:
    """True when ``host`` is an IP address inside one of ``networks`` (names never are)."""
    if not host or not networks:
        return False
    address = _address(host)
    return address is not None and any(address in network for network in networks)


def resolve_client(peer: str, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The client's address given the TCP peer and the ``X-Forwarded-For`` value (see module)."""
    if not forwarded_for or not in_networks(peer, trusted):
        return peer
    client = peer
    for hop in reversed(forwarded_for.split(",")):
        address = _address(hop)
        if address is None:
            break
        client = str(address)
        if not any(address in network for network in trusted):
            break
    return client


class ClientAddressMiddleware:
    """Rewrites ``scope["client"]`` (HTTP and WebSocket) to the resolved client address."""

    def __init__(self, app: ASGIApp, trusted_proxies: Iterable[str]) -> None:
        self.app = app
        self.trusted = parse_networks(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] in ("http", "websocket"):
            peer_host, peer_port = scope.get("client") or ("", 0)
            if in_networks(peer_host, self.trusted):
                scope = dict(scope)
                headers = _headers(scope)
                client = resolve_client(peer_host, headers.get("x-forwarded-for"), self.trusted)
                scope["client"] = (client, peer_port if client == peer_host else 0)
                proto = (headers.get("x-forwarded-proto") or "").split(",")[0].strip().lower()
                if proto in ("http", "https"):
                    secure = proto == "https"
                    if scope["type"] == "websocket":
                        scope["scheme"] = "wss" if secure else "ws"
                    else:
                        scope["scheme"] = proto
        await self.app(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    """Header name -> value, repeated headers joined with commas (as RFC 9110 allows)."""
    joined: dict[str, str] = {}
    for raw_name, raw_value in scope.get("headers") or ():
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


__all__ = [
    "ClientAddressMiddleware",
    "Network",
    "in_networks",
    "parse_networks",
    "resolve_client",
]
