"""An HTTP client that connects only to public addresses (Web Push sends, DNS rebinding).

Checking a host name once and connecting later leaves a gap: the name can resolve to a public
address for the check and to ``127.0.0.1`` for the connection. So the check lives in the
connection itself: :class:`PublicOnlyBackend` is the network backend under httpx's connection
pool; it resolves the host, refuses if any address is not public
(:func:`notifications.push_endpoint.resolve_public`), and connects to the address it checked.
TLS still verifies the certificate for the URL's host name (SNI is the host, not the address).

With ``HTTPS_PROXY`` set, httpx routes through the proxy instead, and the address check is the
proxy's job (the static endpoint checks still run).
"""

from __future__ import annotations

from collections.abc import Iterable

import httpcore
import httpx

from notifications.push_endpoint import EndpointPolicy, resolve_public


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Network backend that resolves, vets and connects to public addresses only.

    Raises :class:`~notifications.push_endpoint.EndpointRefusedError` (not a transport error,
    so senders do not retry it) for a non-public address, and ``httpcore.ConnectError`` when the
    name does not resolve (transient: DNS may be back on the next try).
    """

    def __init__(self, policy: EndpointPolicy, inner: httpcore.AsyncNetworkBackend | None = None):
        self.policy = policy
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Connect to the first reachable of ``host``'s addresses, all of them vetted."""
        try:
            addresses = await resolve_public(host, port, self.policy, timeout=timeout or 5.0)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Never: a push endpoint is a network address."""
        raise httpcore.ConnectError("unix sockets are not push services")

    async def sleep(self, seconds: float) -> None:
        """Delegate (httpcore's connection retries sleep through the backend)."""
        await self._inner.sleep(seconds)


def public_only_client(policy: EndpointPolicy, *, timeout: float = 10.0) -> httpx.AsyncClient:
    """An ``httpx.AsyncClient`` whose direct connections go through :class:`PublicOnlyBackend`.

    httpx does not take a network backend, so the transport's connection pool is replaced by an
    equal one that has it (same limits as httpx's defaults); ``tests`` prove a loopback name is
    refused through this client, which would catch an httpx that stopped using ``_pool``.
    """
    transport = httpx.AsyncHTTPTransport()
    transport._pool = httpcore.AsyncConnectionPool(  # private: see the docstring
        ssl_context=httpx.create_ssl_context(),
        max_connections=100,
        max_keepalive_connections=20,
        keepalive_expiry=5.0,
        network_backend=PublicOnlyBackend(policy),
    )
    return httpx.AsyncClient(transport=transport, timeout=timeout)


__all__ = ["PublicOnlyBackend", "public_only_client"]
