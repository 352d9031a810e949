"""The Strawberry schema with its abuse limits (depth, aliases, tokens, cost, introspection)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import strawberry
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxTokensLimiter,
    SchemaExtension,
)
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from backend.api.accounts_api import AccountsQuery
from backend.api.analytics_api import AnalyticsQuery
from backend.api.dayplan_api import DayPlanMutation, DayPlanQuery
from backend.api.document_limits import DocumentLimits
from backend.api.input_guard import InputGuard
from backend.api.limits import (
    ErrorCodes,
    load_trusted_documents,
    query_limits,
    trusted_documents_only,
)
from backend.api.map_api import MapQuery
from backend.api.notifications_api import (
    NotificationsMutation,
    NotificationsQuery,
    NotificationsSubscription,
)
from backend.api.queries import CoreQuery
from backend.api.territories_api import TerritoriesMutation, TerritoriesQuery
from backend.api.visits_api import VisitsMutation
from backend.settings import Settings


def _is_expected(error: Exception) -> bool:
    """Errors with a code are part of the contract and stay visible in production."""
    from graphql import GraphQLError

    original = getattr(error, "original_error", None)
    if isinstance(error, GraphQLError) and original is None:
        return True
    return isinstance(original, GraphQLError) and "code" in (original.extensions or {})


OPERATIONS_DIR = Path(__file__).resolve().parents[2] / "graphql" / "operations"

# Each feature owns one module of fields; the schema merges them into one Query.
Query = merge_types(
    "Query",
    (
        CoreQuery,
        AccountsQuery,
        AnalyticsQuery,
        DayPlanQuery,
        MapQuery,
        TerritoriesQuery,
        NotificationsQuery,
    ),
)
MUTATION_TYPES: tuple[type, ...] = (
    VisitsMutation,
    DayPlanMutation,
    TerritoriesMutation,
    NotificationsMutation,
)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """Build the schema; ``settings`` decides the limits and what production hides."""
    settings = settings or Settings()
    max_tokens = settings.graphql_max_tokens
    # Depth, aliases, introspection depth and cost are measured in one linear pass before
    # validation (Strawberry's depth and alias limiters expand fragments: exponential work);
    # the token cap is the parser's own and linear.
    limits = DocumentLimits(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        max_introspection_depth=settings.graphql_max_introspection_depth,
        max_cost=settings.graphql_max_cost,
    )
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        query_limits(limits),
    ]
    extensions.append(ErrorCodes)
    extensions.append(InputGuard)
    if settings.is_production:
        trusted = load_trusted_documents(OPERATIONS_DIR)
        extensions.append(trusted_documents_only(trusted))
        extensions.append(lambda: AddValidationRules([NoSchemaIntrospectionCustomRule]))
        extensions.append(lambda: MaskErrors(should_mask_error=lambda e: not _is_expected(e)))
    mutation = merge_types("Mutation", MUTATION_TYPES) if MUTATION_TYPES else None
    return strawberry.Schema(
        query=Query,
        mutation=mutation,
        subscription=NotificationsSubscription,
        extensions=extensions,  # type: ignore[arg-type]
        config=StrawberryConfig(auto_camel_case=True),
    )


def schema_sdl() -> str:
    """The SDL that ``graphql/schema.graphql`` must equal (development settings)."""
    return build_schema(Settings(environment="development")).as_str() + "\n"
