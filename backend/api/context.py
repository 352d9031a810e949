"""Per-request GraphQL context: the session, the settings and the authenticated viewer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.fastapi import BaseContext

from backend.api.errors import ErrorCode, api_error
from backend.auth.viewer import Viewer

if TYPE_CHECKING:
    from backend.runtime import Runtime


@dataclass
class Context(BaseContext):
    """What every resolver gets; authorization decisions read ``viewer``."""

    session: AsyncSession
    runtime: Runtime
    viewer: Viewer | None
    loaders: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__()

    def require_viewer(self) -> Viewer:
        """The authenticated viewer, or an UNAUTHENTICATED error."""
        if self.viewer is None:
            raise api_error(
                ErrorCode.UNAUTHENTICATED,
                "authentication required: send 'Authorization: Bearer <token>' "
                "with a token from POST /auth/token",
            )
        return self.viewer
