"""Linear-time limits on a GraphQL document: depth, aliases, introspection depth and static cost.

Why this module exists: a limiter that follows fragment spreads by expanding them does work
exponential in the document's size. Twenty-one fragments, each spreading the next twice, make
2^20 expansions from a 2 kB request (5.5 s of a blocked event loop); thirty-one make 2^30 (a
process that no longer answers SIGTERM). Strawberry's ``QueryDepthLimiter`` and
``MaxAliasesLimiter`` and our former cost walk all expanded. Here each fragment is measured once,
bottom-up in dependency order (a cycle is refused, not followed), and a spread adds the memoised
measure of its fragment, so the work is linear in the document and every limit is decided before
anything is expanded or executed.

Example:
    >>> from graphql import parse
    >>> document = parse("{ myAccounts(first: 5) { edges { node { id } } } }")
    >>> measure_operation(document, document.definitions[0]).cost  # 1 + 5 x (edges, node, id)
    16
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    NullValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Undefined,
    ValueNode,
    VariableNode,
    get_named_type,
)

#: ``extensions.code`` of a document refused by a limit here.
QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
#: Page size assumed for a ``first`` argument without a default (the resolvers' usual default).
DEFAULT_LIST_SIZE = 50
#: The largest page a resolver serves; bigger or unreadable ``first`` values cost this much.
MAX_LIST_SIZE = 100
#: Fields whose result is computed, not read: they cost more than a lookup.
EXPENSIVE_FIELDS: Mapping[str, int] = {
    "myDay": 50,
    "planMyDay": 200,
    "replanMyDay": 200,
    "proposeAlignment": 500,
    "compareAlignments": 100,
    "roadNetwork": 100,
    "coverage": 50,
    "windshield": 50,
}
#: Raw nesting (every field and inline fragment) beyond which a document is refused outright;
#: it also bounds the recursion of the walk. Real documents stay far below (depth 10 plus an
#: introspection ``ofType`` chain of nine).
MAX_NESTING = 40
#: Numbers stop growing here: a refused document needs no exact count.
_SATURATED = 1 << 62


@dataclass(frozen=True, slots=True)
class DocumentLimits:
    """The limits one operation must stay within.

    Attributes:
        max_depth: deepest field nesting outside introspection (``{ me { id } }`` is 1).
        max_aliases: aliased fields once fragments are expanded (counted, not expanded).
        max_introspection_depth: nesting of introspection fields, not counting ``ofType``
            (a chain of single types that cannot fan out): the standard introspection query
            needs 5; each further level multiplies the answer by the number of fields.
        max_cost: static cost of the operation (see :func:`measure_operation`); None = no cap.
    """

    max_depth: int = 10
    max_aliases: int = 15
    max_introspection_depth: int = 6
    max_cost: int | None = 5_000


@dataclass(frozen=True, slots=True)
class Measure:
    """What a selection set (or a whole operation) amounts to once fragments are expanded."""

    depth: int = 0
    introspection_depth: int = 0
    nesting: int = 0
    aliases: int = 0
    cost: int = 0

    def merge(self, other: Measure) -> Measure:
        """Siblings: the deeper of the two depths, the sum of counts."""
        return Measure(
            depth=max(self.depth, other.depth),
            introspection_depth=max(self.introspection_depth, other.introspection_depth),
            nesting=max(self.nesting, other.nesting),
            aliases=_add(self.aliases, other.aliases),
            cost=_add(self.cost, other.cost),
        )


_NOTHING = Measure()
_TOO_DEEP = Measure(nesting=MAX_NESTING + 1)


class FragmentCycleError(Exception):
    """A fragment spreads itself, directly or through others (the document is invalid)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"fragment {name!r} spreads itself")
        self.name = name


def _add(a: int, b: int) -> int:
    return min(a + b, _SATURATED)


def _times(a: int, b: int) -> int:
    return min(a * b, _SATURATED)


def _spreads(selection_set: SelectionSetNode) -> Iterator[str]:
    """Names of the fragments spread anywhere inside ``selection_set`` (iterative walk)."""
    stack = [selection_set]
    while stack:
        for selection in stack.pop().selections:
            if isinstance(selection, FragmentSpreadNode):
                yield selection.name.value
            elif isinstance(selection, (FieldNode, InlineFragmentNode)) and (
                selection.selection_set is not None
            ):
                stack.append(selection.selection_set)


def fragment_order(fragments: Mapping[str, FragmentDefinitionNode]) -> list[str]:
    """Fragments so that each comes after every fragment it spreads (dependencies first).

    Iterative depth-first search, so a long chain of fragments cannot exhaust the stack.

    Raises:
        FragmentCycleError: a fragment spreads itself, directly or through others.
    """
    order: list[str] = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for root in fragments:
        if state.get(root):
            continue
        state[root] = 1
        path: list[tuple[str, Iterator[str]]] = [(root, _spreads(fragments[root].selection_set))]
        while path:
            name, pending = path[-1]
            child = next(pending, None)
            if child is None:
                path.pop()
                state[name] = 2
                order.append(name)
            elif child in fragments:
                seen = state.get(child)
                if seen == 1:
                    raise FragmentCycleError(child)
                if seen is None:
                    state[child] = 1
                    path.append((child, _spreads(fragments[child].selection_set)))
    return order


class _Walker:
    """Measures selection sets of one operation; fragment measures are computed once."""

    def __init__(
        self,
        schema: GraphQLSchema | None,
        variables: Mapping[str, Any],
        defaults: Mapping[str, ValueNode],
    ) -> None:
        self.schema = schema
        self.variables = variables
        self.defaults = defaults
        self.fragments: dict[str, Measure] = {}
        #: How many selection sets were walked (a test's proof that the work stays linear).
        self.visits = 0

    def selection_set(
        self,
        node: SelectionSetNode,
        parent: GraphQLNamedType | None,
        introspection: bool,
        level: int,
    ) -> Measure:
        """The measure of ``node`` whose fields belong to ``parent`` (None when unknown)."""
        self.visits += 1
        if level > MAX_NESTING:
            return _TOO_DEEP
        total = _NOTHING
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                total = total.merge(self.field(selection, parent, introspection, level))
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner_parent = self.named_type(condition.name.value) if condition else parent
                inner_intro = introspection or (
                    condition is not None and condition.name.value.startswith("__")
                )
                inner = self.selection_set(
                    selection.selection_set, inner_parent, inner_intro, level + 1
                )
                total = total.merge(inner)
            elif isinstance(selection, FragmentSpreadNode):
                total = total.merge(self.fragments.get(selection.name.value, _NOTHING))
        return total

    def field(
        self,
        node: FieldNode,
        parent: GraphQLNamedType | None,
        introspection: bool,
        level: int,
    ) -> Measure:
        """One field: its own cost and aliases plus its selection's, one level deeper."""
        name = node.name.value
        definition = (
            parent.fields.get(name)
            if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType))
            else None
        )
        alias = 1 if node.alias is not None else 0
        if node.selection_set is None:
            # ``__typename`` on an application type costs like any field: a document of
            # nothing but spread ``__typename`` must not look free.
            return Measure(aliases=alias, cost=0 if introspection else 1)
        introspection = introspection or name.startswith("__")
        child_type = get_named_type(definition.type) if definition is not None else None
        inner = self.selection_set(node.selection_set, child_type, introspection, level + 1)
        if introspection:
            return Measure(
                depth=0,
                introspection_depth=inner.introspection_depth + (0 if name == "ofType" else 1),
                nesting=inner.nesting + 1,
                aliases=_add(alias, inner.aliases),
                cost=0,
            )
        size = self.page_size(node, definition)
        return Measure(
            depth=inner.depth + 1,
            introspection_depth=inner.introspection_depth,
            nesting=inner.nesting + 1,
            aliases=_add(alias, inner.aliases),
            cost=_add(EXPENSIVE_FIELDS.get(name, 1), _times(size, inner.cost)),
        )

    def page_size(self, node: FieldNode, definition: Any) -> int:
        """The page the field will really return: ``first`` as the resolver will see it.

        A literal, else the variable's value, else the variable's default, else the field's
        default. Anything that is not a whole number (a float, a string) counts as the largest
        page: GraphQL typing refuses it later, but it must never make a query look cheap.
        """
        argument = next((a for a in node.arguments or () if a.name.value == "first"), None)
        if argument is None:
            return self._field_default(definition)
        value = argument.value
        if isinstance(value, VariableNode):
            variable = value.name.value
            if variable in self.variables:
                return self._clamp(self.variables[variable], definition)
            default = self.defaults.get(variable)
            if default is None:
                return self._field_default(definition)
            value = default
        if isinstance(value, IntValueNode):
            return self._clamp(int(value.value), definition)
        if isinstance(value, NullValueNode):
            return self._field_default(definition)
        return MAX_LIST_SIZE

    def _clamp(self, raw: object, definition: Any) -> int:
        if raw is None:
            return self._field_default(definition)
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            return MAX_LIST_SIZE
        if isinstance(raw, float) and not (math.isfinite(raw) and raw.is_integer()):
            return MAX_LIST_SIZE
        return max(1, min(int(raw), MAX_LIST_SIZE))

    def _field_default(self, definition: Any) -> int:
        argument = definition.args.get("first") if definition is not None else None
        if argument is None:
            return 1  # not a paged field
        default = argument.default_value
        if default is Undefined or default is None:
            return DEFAULT_LIST_SIZE
        return self._clamp(default, None)

    def named_type(self, name: str) -> GraphQLNamedType | None:
        """The schema's type called ``name`` (None without a schema or for unknown names)."""
        return self.schema.get_type(name) if self.schema is not None else None


def _root_type(schema: GraphQLSchema | None, operation: OperationType) -> GraphQLObjectType | None:
    if schema is None:
        return None
    return {
        OperationType.QUERY: schema.query_type,
        OperationType.MUTATION: schema.mutation_type,
        OperationType.SUBSCRIPTION: schema.subscription_type,
    }[operation]


@dataclass(frozen=True, slots=True)
class Analysis:
    """An operation's measure and how many selection sets were walked to get it."""

    measure: Measure
    selection_sets_walked: int


def analyse(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    schema: GraphQLSchema | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Analysis:
    """Measure ``operation``; each selection set of the document is walked once at most.

    Raises:
        FragmentCycleError: a fragment spreads itself.
    """
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    defaults = {
        v.variable.name.value: v.default_value
        for v in operation.variable_definitions or ()
        if v.default_value is not None
    }
    walker = _Walker(schema, variables if isinstance(variables, Mapping) else {}, defaults)
    for name in fragment_order(fragments):
        fragment = fragments[name]
        condition = fragment.type_condition.name.value
        walker.fragments[name] = walker.selection_set(
            fragment.selection_set, walker.named_type(condition), condition.startswith("__"), 0
        )
    root = _root_type(schema, operation.operation)
    measure = walker.selection_set(operation.selection_set, root, False, 0)
    return Analysis(measure, walker.visits)


def measure_operation(
    document: DocumentNode,
    operation: OperationDefinitionNode,
    schema: GraphQLSchema | None = None,
    variables: Mapping[str, Any] | None = None,
) -> Measure:
    """Depth, aliases and static cost of ``operation``, in time linear in ``document``.

    Cost: 1 per field, a page of ``first: N`` multiplies what it selects by N (the effective N,
    see :meth:`_Walker.page_size`; a field's default page needs ``schema``), solver-backed
    fields cost more, introspection costs nothing (its depth is capped instead).

    Raises:
        FragmentCycleError: a fragment spreads itself.
    """
    return analyse(document, operation, schema, variables).measure


def selected_operations(
    document: DocumentNode, operation_name: str | None
) -> list[OperationDefinitionNode]:
    """The operations that run: the one named, or every operation when no name is given."""
    return [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and (operation_name is None or (d.name is not None and d.name.value == operation_name))
    ]


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a document may run, and what the operations that run cost."""

    cost: int
    error: GraphQLError | None


def judge(
    document: DocumentNode,
    limits: DocumentLimits,
    schema: GraphQLSchema | None = None,
    variables: Mapping[str, Any] | None = None,
    operation_name: str | None = None,
) -> Verdict:
    """Measure the operations that run and refuse the document at the first limit it breaks.

    Linear in the document, whatever its fragments do: safe to call on anonymous input before
    any other validation.
    """
    cost = 0
    try:
        for operation in selected_operations(document, operation_name):
            measure = measure_operation(document, operation, schema, variables)
            error = check(measure, limits)
            if error is not None:
                return Verdict(cost=measure.cost, error=error)
            cost = _add(cost, measure.cost)
    except FragmentCycleError as exc:
        cycle = GraphQLError(
            f"cannot spread fragment {exc.name!r} within itself",
            extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
        )
        return Verdict(cost=0, error=cycle)
    return Verdict(cost=cost, error=None)


def check(measure: Measure, limits: DocumentLimits) -> GraphQLError | None:
    """The typed error for the first limit ``measure`` breaks (None when within all)."""
    checks: list[tuple[str, int, int | None, str]] = [
        ("depth", min(measure.nesting, MAX_NESTING + 1), MAX_NESTING, "nesting"),
        ("depth", measure.depth, limits.max_depth, "query depth"),
        (
            "introspectionDepth",
            measure.introspection_depth,
            limits.max_introspection_depth,
            "introspection depth",
        ),
        ("aliases", measure.aliases, limits.max_aliases, "aliases"),
        ("cost", measure.cost, limits.max_cost, "static query cost"),
    ]
    for limit, found, allowed, what in checks:
        if allowed is not None and found > allowed:
            shown = "more" if found >= _SATURATED else str(found)
            return GraphQLError(
                f"{what} {shown} exceeds the maximum of {allowed}; ask for less",
                extensions={
                    "code": QUERY_TOO_COMPLEX,
                    "limit": limit,
                    "maximum": allowed,
                    "found": None if found >= _SATURATED else found,
                },
            )
    return None


__all__ = [
    "DEFAULT_LIST_SIZE",
    "EXPENSIVE_FIELDS",
    "MAX_LIST_SIZE",
    "MAX_NESTING",
    "QUERY_TOO_COMPLEX",
    "Analysis",
    "DocumentLimits",
    "FragmentCycleError",
    "Measure",
    "Verdict",
    "analyse",
    "check",
    "fragment_order",
    "judge",
    "measure_operation",
    "selected_operations",
]
