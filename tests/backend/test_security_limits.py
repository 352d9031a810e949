"""Document limits that cannot be outrun: linear validation, effective page sizes, introspection.

Issue 13, items 2 and 9 and the introspection-depth low item. A fragment "bomb" (each fragment
spreads the next twice) used to be expanded by the depth and alias limiters and the cost walk:
2^20 expansions froze the event loop for seconds, 2^30 for good. Each test here fails on that
code (by a wrong answer, or by never finishing: the thread join and pytest-timeout are failure
detectors, not performance assertions).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from graphql.language import Visitor

from backend.api.document_limits import QUERY_TOO_COMPLEX, DocumentLimits, analyse, judge
from backend.api.limits import query_cost
from backend.api.schema import build_schema
from backend.settings import Settings
from graphql import (
    DocumentNode,
    GraphQLSchema,
    OperationDefinitionNode,
    get_introspection_query,
    parse,
    visit,
)
from tests.conftest import Api, World

ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS_PAGE = "myAccounts{0} {{ edges {{ node {{ id name }} }} }}"


def bomb(levels: int, body: str = "id") -> str:
    """``levels`` fragments, each spreading the next twice: 2^levels expansions of ``body``."""
    parts = ["query Bomb { me { ...F0 } }"]
    parts += [f"fragment F{i} on User {{ {body} ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    parts.append(f"fragment F{levels} on User {{ {body} }}")
    return "\n".join(parts)


def _schema() -> GraphQLSchema:
    return build_schema(Settings(environment="test"))._schema


def _selection_sets(document: DocumentNode) -> int:
    """How many selection sets the document's text holds (the unit of the linear walk)."""

    class Count(Visitor):
        def __init__(self) -> None:
            super().__init__()
            self.seen = 0

        def enter_selection_set(self, *_: object) -> None:
            self.seen += 1

    counter = Count()
    visit(document, counter)
    return counter.seen


def _operation(document: DocumentNode) -> OperationDefinitionNode:
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return operation


def _finishes(work: Any, seconds: float = 10.0) -> Any:
    """Run ``work`` in a thread; fail if it has not returned after ``seconds`` (it never does
    on exponential code: a detector, not a timing assertion)."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "validation did not finish: it expands fragments"
    return result[0]


def test_fragment_bomb_is_measured_walking_each_selection_set_once() -> None:
    """The walk visits each selection set of the document at most once, however often the
    fragments spread each other; the expanded size is still known exactly."""
    document = parse(bomb(30))
    analysis = analyse(document, _operation(document), _schema())
    assert analysis.selection_sets_walked <= _selection_sets(document)
    assert analysis.measure.cost == 1 + (2**31 - 1)  # me + one `id` per expanded fragment
    assert analysis.measure.depth == 1


def test_query_cost_of_a_2_to_30_document_finishes() -> None:
    """The public cost function (which the old code computed by expansion) returns."""
    cost = _finishes(lambda: query_cost(parse(bomb(30))))
    assert cost > 2**30


@pytest.mark.parametrize(
    ("body", "limit"),
    [("id", "cost"), ("__typename", "cost"), ("a: id", "aliases")],
)
def test_fragment_bombs_are_refused_with_a_typed_error(body: str, limit: str) -> None:
    """Fields, bare ``__typename`` and aliases all count once expanded (without expanding)."""
    verdict = _finishes(
        lambda: judge(
            parse(bomb(30, body)),
            DocumentLimits(max_aliases=10**12, max_cost=5_000)
            if limit == "cost"
            else DocumentLimits(max_cost=None),
            _schema(),
        )
    )
    assert verdict.error is not None
    assert verdict.error.extensions["code"] == QUERY_TOO_COMPLEX
    assert verdict.error.extensions["limit"] == limit


def test_depth_through_fragments_and_fragment_cycles() -> None:
    """Depth adds up across fragments; a cycle is refused, not followed."""
    chain = ["query Deep { me { ...D0 } }"]  # each fragment one level deeper: 13 in all
    chain += [f"fragment D{i} on User {{ x {{ ...D{i + 1} }} }}" for i in range(12)]
    chain.append("fragment D12 on User { id }")
    verdict = judge(parse("\n".join(chain)), DocumentLimits(), _schema())
    assert verdict.error is not None
    assert (verdict.error.extensions or {})["limit"] == "depth"
    cycle = "query C { me { ...A } } fragment A on User { id ...B } fragment B on User { ...A }"
    refused = _finishes(lambda: judge(parse(cycle), DocumentLimits(), _schema()))
    assert refused.error is not None
    assert refused.error.extensions["code"] == "GRAPHQL_VALIDATION_FAILED"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("levels", [20, 30])
async def test_bombs_are_refused_over_http_anonymous_and_signed_in(
    api: Api, world: World, levels: int
) -> None:
    """The 21- and 31-fragment documents answer QUERY_TOO_COMPLEX to anyone (test
    environment: no allowlist in front), nothing runs; a sound query still does."""
    for signed_in in (False, True):
        if signed_in:
            await api.login("repa1@x.test", world.password)
        body = await api.gql(bomb(levels))
        assert "data" not in body or body["data"] is None, body
        error = body["errors"][0]  # type: ignore[index]
        assert error["extensions"]["code"] == QUERY_TOO_COMPLEX, error
        assert error["extensions"]["limit"] == "cost"
    assert (await api.gql("{ me { email } }"))["data"] == {"me": {"email": "repa1@x.test"}}


@pytest.mark.timeout(60)
async def test_alias_bomb_is_refused_over_http(api: Api) -> None:
    """Strawberry's MaxAliasesLimiter counted aliases by expanding; here they are counted."""
    body = await api.gql(bomb(30, "x: id"))
    error = body["errors"][0]  # type: ignore[index]
    assert error["extensions"]["code"] == QUERY_TOO_COMPLEX


def _cost(schema: GraphQLSchema, text: str, **variables: object) -> int:
    return query_cost(parse(text), dict(variables), None, schema)


def test_cost_uses_the_effective_page_size() -> None:
    """Variable default, omitted ``first`` and a float all cost the page they really return."""
    schema = _schema()
    page_100 = _cost(schema, "{ " + ACCOUNTS_PAGE.format("(first: 100)") + " }")
    page_50 = _cost(schema, "{ " + ACCOUNTS_PAGE.format("(first: 50)") + " }")
    assert page_100 > page_50 > 50
    by_default = "query($n: Int = 100) { " + ACCOUNTS_PAGE.format("(first: $n)") + " }"
    assert _cost(schema, by_default) == page_100
    assert _cost(schema, by_default, n=5) < page_50  # a value beats the default
    assert _cost(schema, "{ " + ACCOUNTS_PAGE.format("") + " }") == page_50  # field default 50
    as_variable = "query($n: Int!) { " + ACCOUNTS_PAGE.format("(first: $n)") + " }"
    assert _cost(schema, as_variable, n=100.0) == page_100  # GraphQL coerces 100.0 to 100
    assert _cost(schema, as_variable, n=2.5) == page_100  # refused later; never cheap
    assert _cost(schema, "{ " + ACCOUNTS_PAGE.format("(first: 2.5)") + " }") == page_100
    inbox = "{ notifications { items { id title } } }"
    assert _cost(schema, inbox) == _cost(
        schema, "{ notifications(first: 50) { items { id title } } }"
    )


async def test_budget_is_charged_the_effective_page(api: Api, world: World) -> None:
    """What the viewer is charged (``extensions.cost.requested``) follows the page served."""
    await api.login("repa1@x.test", world.password)
    literal = await api.gql("{ " + ACCOUNTS_PAGE.format("(first: 100)") + " }")
    charged = literal["extensions"]["cost"]["requested"]  # type: ignore[index]
    by_default = "query($n: Int = 100) { " + ACCOUNTS_PAGE.format("(first: $n)") + " }"
    as_float = "query($n: Int!) { " + ACCOUNTS_PAGE.format("(first: $n)") + " }"
    for body in (await api.gql(by_default), await api.gql(as_float, n=100.0)):
        assert "errors" not in body, body
        assert body["extensions"]["cost"]["requested"] == charged  # type: ignore[index]
    omitted = await api.gql("{ " + ACCOUNTS_PAGE.format("") + " }")
    fifty = await api.gql("{ " + ACCOUNTS_PAGE.format("(first: 50)") + " }")
    assert (
        omitted["extensions"]["cost"]["requested"]  # type: ignore[index]
        == fifty["extensions"]["cost"]["requested"]  # type: ignore[index]
    )
    refused = await api.gql("{ " + ACCOUNTS_PAGE.format("(first: 2.5)") + " }")
    assert refused.get("data") is None and refused["errors"]  # typing refuses a float page


async def test_introspection_depth_is_capped_in_development(api: Api) -> None:
    """The standard introspection query (GraphiQL's) runs; fanning out deeper is refused."""
    standard = await api.gql(get_introspection_query(descriptions=True))
    assert "errors" not in standard and standard["data"]["__schema"]["types"]  # type: ignore[index]
    deep = "{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }"
    error = (await api.gql(deep))["errors"][0]  # type: ignore[index]
    assert error["extensions"]["code"] == QUERY_TOO_COMPLEX
    assert error["extensions"]["limit"] == "introspectionDepth"


def test_published_documents_pass_every_limit_with_default_settings() -> None:
    """The PWA's documents stay well inside the defaults (with their variables' defaults)."""
    settings = Settings(environment="test")
    limits = DocumentLimits(
        max_depth=settings.graphql_max_depth,
        max_aliases=settings.graphql_max_aliases,
        max_introspection_depth=settings.graphql_max_introspection_depth,
        max_cost=settings.graphql_max_cost,
    )
    schema = _schema()
    for path in sorted((ROOT / "graphql" / "operations").glob("*.graphql")):
        document = parse(path.read_text())
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode) and definition.name is not None:
                verdict = judge(document, limits, schema, {}, definition.name.value)
                assert verdict.error is None, (path.name, definition.name.value, verdict.error)


def test_no_fragment_expanding_limiter_is_installed() -> None:
    """Strawberry's depth and alias limiters expand fragments; they must not come back."""
    from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter

    for environment in ("development", "test"):
        schema = build_schema(Settings(environment=environment))  # type: ignore[arg-type]
        built = [factory() if callable(factory) else factory for factory in schema.extensions]
        assert not any(isinstance(e, (QueryDepthLimiter, MaxAliasesLimiter)) for e in built)
