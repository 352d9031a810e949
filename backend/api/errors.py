"""Typed GraphQL errors: every failure carries ``extensions.code`` and, for input, the field."""

from __future__ import annotations

import enum
from typing import Any

from graphql import GraphQLError


class ErrorCode(enum.StrEnum):
    """Machine-readable error codes clients switch on."""

    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    UNAVAILABLE = "UNAVAILABLE"
    INFEASIBLE = "INFEASIBLE"
    INTERNAL = "INTERNAL_SERVER_ERROR"


def api_error(
    code: ErrorCode, message: str, *, field: str | None = None, **details: Any
) -> GraphQLError:
    """Build the error a resolver raises; ``field`` names the argument at fault."""
    extensions: dict[str, Any] = {"code": code.value}
    if field is not None:
        extensions["field"] = field
    extensions.update(details)
    return GraphQLError(message, extensions=extensions)


def not_found(kind: str, object_id: object, field: str = "id") -> GraphQLError:
    """The answer for both 'does not exist' and 'not yours': the two must look the same."""
    return api_error(ErrorCode.NOT_FOUND, f"{kind} {object_id} not found", field=field)


def bad_input(field: str, message: str, **details: Any) -> GraphQLError:
    """Input the caller can fix; names the field."""
    return api_error(ErrorCode.BAD_USER_INPUT, message, field=field, **details)
