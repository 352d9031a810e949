"""Abuse limits: query cost budgets, login attempts, request sizes, trusted documents.

Budgets are leaky buckets keyed per user (or per client address for logins). With
``FIELDREP_REDIS_URL`` they live in Redis, so every API process shares them; without it each
process keeps its own (the embedded single-process default).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from redis.exceptions import RedisError
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from backend.api.document_limits import (
    DocumentLimits,
    judge,
    measure_operation,
    selected_operations,
)
from graphql import DocumentNode, GraphQLError, GraphQLSchema

log = logging.getLogger(__name__)


class Bucket(Protocol):
    """A leaky bucket: ``take(key, cost)`` -> (allowed, remaining, retry_after_s)."""

    async def take(self, key: str, cost: float) -> tuple[bool, float, float]: ...


@dataclass
class MemoryBucket:
    """In-process leaky bucket (one process; tests and the embedded default)."""

    capacity: float
    per_second: float

    def __post_init__(self) -> None:
        self._levels: dict[str, tuple[float, float]] = {}

    async def take(self, key: str, cost: float) -> tuple[bool, float, float]:
        now = time.monotonic()
        level, stamp = self._levels.get(key, (0.0, now))
        level = max(0.0, level - (now - stamp) * self.per_second)
        if level + cost > self.capacity:
            self._levels[key] = (level, now)
            return False, self.capacity - level, (level + cost - self.capacity) / self.per_second
        self._levels[key] = (level + cost, now)
        return True, self.capacity - level - cost, 0.0


_LUA = """
local level = tonumber(redis.call('HGET', KEYS[1], 'level') or '0')
local stamp = tonumber(redis.call('HGET', KEYS[1], 'stamp') or ARGV[1])
local now, rate = tonumber(ARGV[1]), tonumber(ARGV[2])
local capacity, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
level = math.max(0, level - (now - stamp) * rate)
local allowed = 0
if level + cost <= capacity then level = level + cost; allowed = 1 end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'stamp', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / rate) + 1)
local wait = math.max(0, (level + cost - capacity) / rate)
return {allowed, tostring(capacity - level), tostring(wait)}
"""


class RedisBucket:
    """Leaky bucket shared by every API process (atomic Lua script)."""

    def __init__(self, client: Any, capacity: float, per_second: float, prefix: str) -> None:
        self._client = client
        self.capacity = capacity
        self.per_second = per_second
        self._prefix = prefix
        self._script = client.register_script(_LUA)

    async def take(self, key: str, cost: float) -> tuple[bool, float, float]:
        """Charge ``cost``; when Redis is unreachable, allow (the API keeps serving)."""
        try:
            allowed, remaining, retry = await self._script(
                keys=[f"{self._prefix}:{key}"],
                args=[time.time(), self.per_second, self.capacity, cost],
            )
        except (RedisError, OSError) as exc:
            log.warning("rate limiter unavailable, allowing request: %s", exc)
            return True, self.capacity, 0.0
        return bool(int(allowed)), float(remaining), float(retry)


def query_cost(
    document: DocumentNode,
    variables: dict[str, Any] | None = None,
    operation_name: str | None = None,
    schema: GraphQLSchema | None = None,
) -> int:
    """Static cost: 1 per field, list pages multiply what is inside them, solvers cost extra.

    With ``operation_name``, only that operation counts: a client sends a whole published
    document (the trusted-document allowlist knows files by their text) and runs one of it.
    With ``schema``, an omitted ``first`` costs the field's default page. Linear in the
    document (fragments are measured once, see :mod:`backend.api.document_limits`).
    """
    return sum(
        measure_operation(document, operation, schema, variables).cost
        for operation in selected_operations(document, operation_name)
    )


def query_limits(limits: DocumentLimits) -> type[SchemaExtension]:
    """Schema extension enforcing ``limits`` and charging each operation's cost to its viewer.

    The document is measured before GraphQL validation runs (and before anything expands a
    fragment), for every caller, anonymous or not, in every environment; a refusal is a
    pre-execution error (``QUERY_TOO_COMPLEX``), which WebSocket clients get as an ``error``
    message. The viewer's cost budget (``runtime.query_bucket``) is charged at execution.
    """

    class QueryLimits(SchemaExtension):
        def __init__(self) -> None:
            self.report: dict[str, Any] | None = None
            self.cost: int | None = None

        def on_validate(self) -> Iterator[None]:  # type: ignore[override]
            ctx = self.execution_context
            document = ctx.graphql_document
            if document is not None and ctx.pre_execution_errors is None:
                schema = getattr(ctx.schema, "_schema", None)
                graphql_schema = schema if isinstance(schema, GraphQLSchema) else None
                verdict = judge(document, limits, graphql_schema, ctx.variables, ctx.operation_name)
                if verdict.error is not None:
                    ctx.pre_execution_errors = [verdict.error]  # strawberry skips validation
                else:
                    self.cost = verdict.cost
            yield

        async def on_execute(self) -> Any:  # type: ignore[override]
            ctx = self.execution_context
            runtime = getattr(ctx.context, "runtime", None)
            bucket = getattr(runtime, "query_bucket", None)
            viewer = getattr(ctx.context, "viewer", None)
            if bucket is None or viewer is None or self.cost is None:
                yield
                return
            requested = self.cost
            allowed, remaining, retry = await bucket.take(f"user:{viewer.user_id}", requested)
            self.report = {
                "requested": requested,
                "remaining": round(remaining, 1),
                "limit": getattr(bucket, "capacity", None),
            }
            if not allowed:
                raise GraphQLError(
                    f"query cost budget exhausted; retry in {retry:.0f} s or ask for less",
                    extensions={
                        "code": "RATE_LIMITED",
                        "retryAfter": round(retry, 1),
                        "cost": self.report,
                    },
                )
            yield

        def get_results(self) -> dict[str, Any]:
            return {"cost": self.report} if self.report else {}

    return QueryLimits


def load_trusted_documents(folder: Path) -> dict[str, str]:
    """sha256 hex of each operation file's text -> the text (the production allowlist)."""
    documents = {}
    for path in sorted(folder.glob("*.graphql")):
        text = path.read_text()
        documents[hashlib.sha256(text.encode()).hexdigest()] = text
    return documents


def trusted_documents_only(allowlist: dict[str, str]) -> type[SchemaExtension]:
    """Schema extension refusing any query text that is not in ``graphql/operations/``."""

    class TrustedDocuments(SchemaExtension):
        def on_operation(self) -> Iterator[None]:  # type: ignore[override]
            ctx = self.execution_context
            query = ctx.query or ""
            if hashlib.sha256(query.encode()).hexdigest() not in allowlist:
                # Recorded, not raised: strawberry answers a pre-execution error on every
                # transport (over WebSocket a raise here became a bare "complete").
                ctx.pre_execution_errors = [
                    GraphQLError(
                        "only the operations published in graphql/operations/ run here",
                        extensions={"code": "PERSISTED_QUERY_NOT_FOUND"},
                    )
                ]
            yield

    return TrustedDocuments


class BodySizeLimit:
    """ASGI middleware answering 413 to request bodies over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        seen = 0

        async def counting_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLargeError
            return message

        try:
            await self.app(scope, counting_receive, send)
        except _TooLargeError:
            await self._too_large(send)

    async def _too_large(self, send: Send) -> None:
        body = b'{"code":"PAYLOAD_TOO_LARGE","message":"request body too large"}'
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLargeError(Exception):
    pass


AsyncCheck = Callable[[str], Awaitable[tuple[bool, float, float]]]


class ErrorCodes(SchemaExtension):
    """Gives every error a code: a lost database is ``UNAVAILABLE`` with ``retryable: true``.

    The pool pings connections before use, so once the database is back the next request
    succeeds without restarting fieldrep; meanwhile clients get a code they can retry on.
    Input that overflows (a date beyond year 9999) is ``BAD_USER_INPUT``; anything else that
    escaped a resolver is ``INTERNAL_SERVER_ERROR`` (masked in production).
    """

    def on_execute(self) -> Iterator[None]:  # type: ignore[override]
        yield
        result = self.execution_context.result
        if result is None or not result.errors:
            return
        result.errors = [_retryable(error) for error in result.errors]


def database_unreachable(error: Exception) -> bool:
    """A lost or not-yet-ready database: connection invalidated, SQLSTATE 08xxx (connection
    exception) or 57P0x (admin shutdown, crash shutdown, cannot connect now: starting up)."""
    from sqlalchemy.exc import DBAPIError

    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    state = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
    return isinstance(state, str) and (state.startswith("08") or state.startswith("57P0"))


def _retryable(error: GraphQLError) -> GraphQLError:
    from sqlalchemy.exc import DBAPIError, OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    original = error.original_error
    lost = isinstance(original, (OperationalError, PoolTimeoutError, ConnectionError, OSError)) or (
        isinstance(original, DBAPIError) and database_unreachable(original)
    )
    if not lost:
        if (error.extensions or {}).get("code"):
            return error
        if original is None:  # parse/validation errors keep the spec's message, gain a code
            return GraphQLError(
                error.message,
                nodes=error.nodes,
                path=error.path,
                extensions={**(error.extensions or {}), "code": "GRAPHQL_VALIDATION_FAILED"},
            )
        code = "BAD_USER_INPUT" if isinstance(original, OverflowError) else "INTERNAL_SERVER_ERROR"
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            path=error.path,
            original_error=original,
            extensions={**(error.extensions or {}), "code": code},
        )
    return GraphQLError(
        "the database is unavailable right now; retry shortly",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "UNAVAILABLE", "retryable": True},
    )
