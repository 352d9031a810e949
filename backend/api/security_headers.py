"""Security headers on every HTTP answer: CSP, no sniffing, no framing, no referrer, no caching.

A pure ASGI middleware (it sees the response start of every route, static files included):

- ``Content-Security-Policy``: scripts and styles only from the app's own files (no inline
  script, no ``eval``), so markup that slips into the page cannot run; images also from
  ``data:`` and any ``https:`` tile server (the map's tile URL is a per-device setting);
  connections to this origin only (HTTP and its WebSocket); no plugins, no ``<base>``, no
  framing. The development IDEs (GraphiQL at ``/graphql``, Swagger at ``/docs``) load their
  code from CDNs with inline scripts and are left without it; production serves neither.
- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY`` (with ``frame-ancestors``
  for browsers that read only the CSP), ``Referrer-Policy: no-referrer``.
- ``Cache-Control: no-store`` on ``/graphql``, ``/auth/*`` and every answer to a request that
  carries ``Authorization``: a shared or browser cache must never keep someone's data. (The
  PWA's offline copies live in its own Cache Storage, which ignores HTTP caching headers.)
  The app's static files keep their validators (ETag, Last-Modified).

Example:
    >>> app.add_middleware(SecurityHeaders)
"""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The policy without its connect-src (which names this host's WebSocket origins).
BASE_POLICY = (
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob: https:",
    "font-src 'self'",
    "manifest-src 'self'",
    "worker-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
STATIC_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
_HOST = re.compile(rb"^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$")
#: Developer pages whose code comes from CDNs with inline scripts (off in production).
_IDE_PATHS = frozenset({"/docs", "/docs/oauth2-redirect"})


def content_security_policy(host: bytes | None) -> bytes:
    """The policy for a page served as ``host``: connections to itself, HTTP and WebSocket.

    CSP Level 3 lets ``'self'`` match ``ws:``/``wss:`` of the same host, older Safari does
    not, so the WebSocket origins are named too (only for a well-formed ``Host``).
    """
    connect = "connect-src 'self'"
    if host and _HOST.match(host):
        name = host.decode("ascii")
        connect += f" ws://{name} wss://{name}"
    return "; ".join((*BASE_POLICY, connect)).encode("ascii")


def _is_private(scope: Scope, request_headers: dict[bytes, bytes]) -> bool:
    """Whether the answer may hold a user's data: API and auth routes, or a bearer request."""
    path: str = scope.get("path", "")
    return (
        path == "/graphql"
        or path.startswith("/graphql/")
        or path.startswith("/auth/")
        or b"authorization" in request_headers
    )


class SecurityHeaders:
    """ASGI middleware adding the headers above to every HTTP response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = dict(scope.get("headers") or [])
        private = _is_private(scope, request_headers)
        path: str = scope.get("path", "")
        host = request_headers.get(b"host")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if not (private and k.lower() in (b"cache-control", b"pragma", b"expires"))
                ]
                present = {k.lower() for k, _ in headers}
                headers += [(k, v) for k, v in STATIC_HEADERS if k not in present]
                content_type = {k.lower(): v for k, v in headers}.get(b"content-type", b"")
                ide = path in _IDE_PATHS or (
                    path == "/graphql" and content_type.startswith(b"text/html")
                )
                if not ide and b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", content_security_policy(host)))
                if private:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


__all__ = ["SecurityHeaders", "content_security_policy"]
