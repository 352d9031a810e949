"""Domain refusals that the API turns into typed GraphQL errors (code + field).

Services do not import the GraphQL layer; they raise :class:`Rejected`, and
``backend.api`` maps its ``kind`` to an error code. The CLI prints the message instead.
"""

from __future__ import annotations

import enum
from typing import Any


class RejectKind(enum.StrEnum):
    """Why a request was refused."""

    BAD_INPUT = "bad_input"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"


class Rejected(Exception):  # noqa: N818 - a refusal, not a crash
    """A request the domain refuses, naming the input field at fault."""

    def __init__(self, kind: RejectKind, field: str | None, message: str, **details: Any) -> None:
        super().__init__(message)
        self.kind = kind
        self.field = field
        self.message = message
        self.details = details

    @classmethod
    def bad_input(cls, field: str, message: str, **details: Any) -> Rejected:
        """Input the caller can fix."""
        return cls(RejectKind.BAD_INPUT, field, message, **details)

    @classmethod
    def not_found(cls, field: str, message: str) -> Rejected:
        """Missing, or not the caller's: both must look the same."""
        return cls(RejectKind.NOT_FOUND, field, message)

    @classmethod
    def conflict(cls, field: str, message: str) -> Rejected:
        """Contradicts what is already stored; the stored version is kept."""
        return cls(RejectKind.CONFLICT, field, message)

    @classmethod
    def forbidden(cls, message: str) -> Rejected:
        """The caller's role may not do this at all."""
        return cls(RejectKind.FORBIDDEN, None, message)


__all__ = ["RejectKind", "Rejected"]
