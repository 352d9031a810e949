"""FastAPI application factory: GraphQL at /graphql, auth at /auth/token, the PWA at /app."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import orjson
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import HTTPConnection, Request
from strawberry.exceptions import ConnectionRejectionError
from strawberry.fastapi import GraphQLRouter
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from backend.api.auth_routes import RuntimeDep, get_runtime
from backend.api.auth_routes import router as auth_router
from backend.api.client_address import ClientAddressMiddleware
from backend.api.context import Context
from backend.api.limits import BodySizeLimit, database_unreachable
from backend.api.live_socket import BoundedWebSocketAdapter, LiveSocketHandler, SocketLimits
from backend.api.request_limits import AddressRequestLimit
from backend.api.schema import build_schema
from backend.api.security_headers import SecurityHeaders
from backend.auth.tokens import InvalidTokenError, verify_token
from backend.auth.viewer import Viewer, load_viewer
from backend.heap import settle_heap
from backend.runtime import Runtime
from backend.settings import Settings

MOBILE_CLIENT_DIR = Path(__file__).resolve().parent.parent / "mobile_client"
OPERATIONS_DIR = Path(__file__).resolve().parent.parent / "graphql" / "operations"


def _from_bearer(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() == "bearer" and token:
        return token.strip()
    return None


def bearer_token(connection: HTTPConnection) -> str | None:
    """The token from ``Authorization: Bearer ...`` (HTTP requests)."""
    return _from_bearer(connection.headers.get("authorization", ""))


class AuthenticatedGraphQLRouter(GraphQLRouter[Context, None]):
    """Authenticates WebSocket connections at ``connection_init`` (browsers cannot set headers).

    The payload carries ``{"authorization": "Bearer <token>"}``; a missing or bad token closes
    the socket with 4403 before any subscription starts. Afterwards ``LiveSocketHandler`` closes
    it when the token expires or the user is deactivated, and caps message size and
    subscriptions (``backend/api/live_socket.py``); only graphql-transport-ws is spoken.
    """

    graphql_transport_ws_handler_class = LiveSocketHandler
    websocket_adapter_class = BoundedWebSocketAdapter  # type: ignore[assignment]
    socket_limits = SocketLimits()

    async def socket_viewer(self, runtime: Runtime, token: str) -> Viewer | None:
        """Re-authenticate a live socket's token (the same check as every HTTP request)."""
        return await viewer_for_token(runtime, token)

    def encode_json(self, data: object) -> str:
        """Responses and subscription messages through orjson (several times faster than
        ``json.dumps``, which mattered when a realignment sends a thousand messages at once)."""
        return orjson.dumps(data).decode()

    async def on_ws_connect(self, context: Context) -> None:  # type: ignore[override]
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        token = _from_bearer(params.get("authorization")) or params.get("token")
        viewer = await viewer_for_token(context.runtime, token if isinstance(token, str) else None)
        if viewer is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.viewer = viewer


async def viewer_for_token(
    runtime: Runtime, token: str | None, session: AsyncSession | None = None
) -> Viewer | None:
    """Verify ``token`` and load its user; None for anonymous, expired or deactivated.

    The user is read on every call (a deactivated user is refused at once), in ``session``
    when given, else in a session of its own.
    """
    if not token:
        return None
    try:
        claims = verify_token(token, runtime.settings.secret_key)
    except InvalidTokenError:
        return None
    if session is not None:
        return await load_viewer(session, claims.user_id, claims.token_version)
    async with runtime.sessionmaker() as own:
        return await load_viewer(own, claims.user_id, claims.token_version)


async def get_context(connection: HTTPConnection, runtime: RuntimeDep) -> AsyncIterator[Context]:
    """One session per GraphQL request (or WebSocket connection), closed at its end.

    The viewer is read in that session: one connection checkout per request, not two.
    """
    async with runtime.sessionmaker() as session:
        viewer = await viewer_for_token(runtime, bearer_token(connection), session)
        yield Context(session=session, runtime=runtime, viewer=viewer)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    """Build the app; tests pass their own ``runtime`` (e.g. a throwaway PostGIS database)."""
    settings = settings or (runtime.settings if runtime else Settings())
    owned_runtime = runtime is None
    runtime = runtime or Runtime.create(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from backend.jobs.scheduler import background
        from backend.messaging.wiring import running_messaging

        app.state.runtime = runtime
        async with running_messaging(runtime), background(runtime):
            settle_heap()
            yield
        if owned_runtime:
            await runtime.close()

    app = FastAPI(
        title="fieldrep",
        lifespan=lifespan,
        docs_url=None if settings.is_production else "/docs",
        redoc_url=None,
        openapi_url=None if settings.is_production else "/openapi.json",
    )
    app.state.runtime = runtime
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    # Per-address request budget, on the address ClientAddressMiddleware resolved (added after,
    # so it runs before): a refused request is answered before its body is read.
    app.add_middleware(AddressRequestLimit, runtime=runtime)
    app.add_middleware(ClientAddressMiddleware, trusted_proxies=settings.trusted_proxies)
    app.add_middleware(SecurityHeaders)  # outermost: the 413 answers get the headers too
    app.include_router(auth_router)
    graphql_app = AuthenticatedGraphQLRouter(
        build_schema(settings),
        context_getter=get_context,  # type: ignore[arg-type]
        graphql_ide=None if settings.is_production else "graphiql",
        max_subscriptions_per_connection=settings.ws_max_subscriptions,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
    )
    graphql_app.socket_limits = SocketLimits.from_settings(settings)
    app.include_router(graphql_app, prefix="/graphql")

    @app.exception_handler(DBAPIError)
    @app.exception_handler(SATimeoutError)
    @app.exception_handler(OSError)
    async def database_unavailable(_request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and not (
            isinstance(exc, OperationalError) or database_unreachable(exc)
        ):
            raise exc  # a real bug, not an outage: let it be a 500 (and logged)
        return JSONResponse(
            {
                "code": "UNAVAILABLE",
                "retryable": True,
                "message": "a backing service (the database) is unavailable; retry shortly",
            },
            status_code=503,
            headers={"Retry-After": "2"},
        )

    instance_id = secrets.token_hex(6)

    @app.get("/healthz", tags=["ops"])
    async def healthz(rt: Annotated[Runtime, Depends(get_runtime)]) -> dict[str, str | int]:
        """Database reachable; which worker answered, how many live subscriptions it serves
        (with several workers, operators and benchmarks poll until they have seen each) and
        whether its outbox relay leads, stands by or runs in another process.

        The worker is named by a random id drawn at start-up, not its pid: the answer is
        public and a pid helps an attacker (guessing other ids, telling restarts apart)."""
        from sqlalchemy import text

        async with rt.sessionmaker() as session:
            await session.execute(text("SELECT 1"))
        health: dict[str, str | int] = {"status": "ok", "process": instance_id}
        messaging = rt.extras.get("messaging")
        if messaging is not None:
            health["liveSubscriptions"] = messaging.hub.live_subscriptions
            relay = messaging.relay
            if relay is None:
                health["relay"] = "elsewhere"  # `fieldrep relay` runs it
            else:
                leading = relay.is_leader is None or relay.is_leader()
                health["relay"] = "leading" if leading else "standing by"
        return health

    if OPERATIONS_DIR.is_dir():
        # The client's GraphQL documents: the only operations the PWA sends.
        app.mount("/operations", StaticFiles(directory=OPERATIONS_DIR), name="operations")
    if MOBILE_CLIENT_DIR.is_dir():
        app.mount("/app", StaticFiles(directory=MOBILE_CLIENT_DIR, html=True), name="app")

        @app.get("/", include_in_schema=False)
        async def root() -> RedirectResponse:
            return RedirectResponse("/app/")

    return app
