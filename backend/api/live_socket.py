"""Limits and re-authentication for GraphQL subscriptions over WebSocket (graphql-transport-ws).

Why: a socket is authenticated once, at ``connection_init``, and then lives for hours. Without a
watch it outlived the token's expiry and the user's deactivation; it accepted 5 MB messages and
300 subscriptions; and a document refused before execution ended in a bare ``complete``. Here:

- every message is at most ``ws_max_message_bytes``; a larger one closes the socket with 1009
  (the WebSocket code for "message too big");
- at most ``ws_max_subscriptions`` operations run per socket; one more gets an ``error``
  message with ``extensions.code = TOO_MANY_SUBSCRIPTIONS`` (the others keep running);
- a watch closes the socket with 4401 when the token expires (scheduled at its ``exp``) and with
  4403 when a re-check (every ``ws_recheck_seconds``) finds the user deactivated or gone.

Example:
    The router opts in with two class attributes and speaks only graphql-transport-ws (the
    legacy protocol's handler has neither the cap nor the watch; see ``backend/app.py``)::

        class AuthenticatedGraphQLRouter(GraphQLRouter[Context, None]):
            graphql_transport_ws_handler_class = LiveSocketHandler
            websocket_adapter_class = BoundedWebSocketAdapter

        AuthenticatedGraphQLRouter(schema, subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,))
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from json import JSONDecodeError
from typing import TYPE_CHECKING, Protocol, cast

from starlette.websockets import WebSocketDisconnect, WebSocketState
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import NonJsonMessageReceived, NonTextMessageReceived
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    SubscribeMessage,
)

from backend.api.context import Context
from backend.auth.tokens import InvalidTokenError, verify_token
from graphql import GraphQLError

if TYPE_CHECKING:
    from backend.auth.viewer import Viewer
    from backend.runtime import Runtime
    from backend.settings import Settings

log = logging.getLogger(__name__)

#: Close codes: RFC 6455 "message too big"; graphql-transport-ws "unauthorized" / "forbidden".
MESSAGE_TOO_BIG = 1009
TOKEN_EXPIRED = 4401
ACCESS_REVOKED = 4403
#: ``extensions.code`` of the ``error`` answering a subscription over the per-socket cap.
TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS"


@dataclass(frozen=True, slots=True)
class SocketLimits:
    """Per-socket limits (``FIELDREP_WS_*`` settings)."""

    max_message_bytes: int = 65_536
    max_subscriptions: int = 10
    recheck_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SocketLimits:
        """The limits a deployment configured."""
        return cls(
            max_message_bytes=settings.ws_max_message_bytes,
            max_subscriptions=settings.ws_max_subscriptions,
            recheck_seconds=settings.ws_recheck_seconds,
        )


class LiveSocketView(Protocol):
    """What the handler needs from the router: its limits and how it authenticates a token."""

    socket_limits: SocketLimits

    async def socket_viewer(self, runtime: Runtime, token: str) -> Viewer | None:
        """The viewer ``token`` stands for now (None: expired, revoked or deactivated)."""
        ...


def socket_token(connection_params: object) -> str | None:
    """The token a client sent in ``connection_init``: ``{"authorization": "Bearer <t>"}`` (the
    PWA) or ``{"token": "<t>"}``."""
    if not isinstance(connection_params, dict):
        return None
    authorization = connection_params.get("authorization")
    if isinstance(authorization, str):
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    plain = connection_params.get("token")
    return plain if isinstance(plain, str) and plain else None


class BoundedWebSocketAdapter(ASGIWebSocketAdapter):
    """Reads at most ``socket_limits.max_message_bytes`` per message; closes with 1009 beyond."""

    async def iter_json(
        self, *, ignore_parsing_errors: bool = False
    ) -> AsyncGenerator[object, None]:
        """Strawberry's loop with a size check before anything is decoded."""
        max_bytes = cast("LiveSocketView", self.view).socket_limits.max_message_bytes
        try:
            while self.ws.application_state != WebSocketState.DISCONNECTED:
                text = await self.ws.receive_text()
                # Characters first (no copy); encode only when it could matter (UTF-8 <= 4x).
                if len(text) > max_bytes or (
                    len(text) * 4 > max_bytes and len(text.encode()) > max_bytes
                ):
                    await self.ws.close(
                        code=MESSAGE_TOO_BIG, reason=f"message over {max_bytes} bytes"
                    )
                    return
                try:
                    yield self.view.decode_json(text)
                except JSONDecodeError as exc:
                    if not ignore_parsing_errors:
                        raise NonJsonMessageReceived from exc
        except KeyError as exc:  # a binary frame
            raise NonTextMessageReceived from exc
        except WebSocketDisconnect:
            return


class LiveSocketHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws with a subscription cap and a watch on the token and the user."""

    watch: asyncio.Task[None] | None = None

    @property
    def _view(self) -> LiveSocketView:
        return cast("LiveSocketView", self.view)

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        """Authenticate (the router's ``on_ws_connect``), then start watching the token."""
        await super().handle_connection_init(message)
        token = socket_token(self.context.connection_params)
        if self.connection_acknowledged and token is not None and self.watch is None:
            self.watch = asyncio.create_task(self._watch(token))

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        """Refuse an operation over the per-socket cap with a typed ``error``; run the rest."""
        limit = self._view.socket_limits.max_subscriptions
        if (
            self.connection_acknowledged
            and message["id"] not in self.operations
            and len(self.operations) >= limit
        ):
            error = GraphQLError(
                f"at most {limit} subscriptions per connection; complete one first",
                extensions={"code": TOO_MANY_SUBSCRIPTIONS, "maximum": limit},
            )
            await self.send_message(
                {"id": message["id"], "type": "error", "payload": [error.formatted]}
            )
            return
        await super().handle_subscribe(message)

    async def shutdown(self) -> None:
        """Stop the watch with the socket."""
        if self.watch is not None:
            self.watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.watch
        await super().shutdown()

    async def _watch(self, token: str) -> None:
        """Close the socket at the token's expiry or when a re-check finds the user gone."""
        try:
            await self._watch_until_refused(token)
        except asyncio.CancelledError:
            raise
        except Exception:  # a lost database must not kill the socket; the next check retries
            log.exception("WebSocket re-check failed")

    async def _watch_until_refused(self, token: str) -> None:
        runtime = self.context.runtime
        every = self._view.socket_limits.recheck_seconds
        while True:
            try:
                expires_at = verify_token(token, runtime.settings.secret_key).expires_at
            except InvalidTokenError:
                await self._close(TOKEN_EXPIRED, "token expired; reconnect with a fresh token")
                return
            left = (expires_at - dt.datetime.now(dt.UTC)).total_seconds()
            await asyncio.sleep(max(0.0, min(every, left)))
            if dt.datetime.now(dt.UTC) >= expires_at:
                await self._close(TOKEN_EXPIRED, "token expired; reconnect with a fresh token")
                return
            try:
                viewer = await self._view.socket_viewer(runtime, token)
            except Exception:  # the database is away: keep serving, check again
                log.warning("WebSocket re-check could not read the user; retrying")
                continue
            if viewer is None:
                await self._close(ACCESS_REVOKED, "access revoked: the user is deactivated")
                return
            self.context.viewer = viewer

    async def _close(self, code: int, reason: str) -> None:
        """End every operation first (none sends after the close), then close the socket."""
        for operation_id in list(self.operations):
            await self.cleanup_operation(operation_id)
        with contextlib.suppress(RuntimeError):  # already closed by the client
            await self.websocket.close(code=code, reason=reason)


__all__ = [
    "ACCESS_REVOKED",
    "MESSAGE_TOO_BIG",
    "TOKEN_EXPIRED",
    "TOO_MANY_SUBSCRIPTIONS",
    "BoundedWebSocketAdapter",
    "LiveSocketHandler",
    "LiveSocketView",
    "SocketLimits",
    "socket_token",
]
