"""Bad scalar input is the caller's mistake: BAD_USER_INPUT naming the argument, in one place.

graphql-core refuses NaN and Infinity for ``Float``, integers beyond 32 bits for ``Int`` and
invalid dates for ``Date``; but a refused *variable* surfaced as an error with an original
exception, which the error mapper took for a crash (INTERNAL_SERVER_ERROR, "Unexpected error."
in production). Strings with a NUL character (PostgreSQL refuses them in text and JSON) or an
unpaired UTF-16 surrogate (not encodable as UTF-8) reached the database and failed there.

:class:`InputGuard` checks every variable against its declared type before execution, and every
string (in variables and in literals) for NUL and lone surrogates; the first problem answers
``BAD_USER_INPUT`` with ``field`` set to the argument path (``input.position.lat``,
``points[0].accuracyM``, ``changes.added[3]``) and nothing is executed. Literal values the
validator refused (``first: 3000000000``, ``date: "2026-02-30"``) get the same code and field.
The messages name the problem, never echo the value.

Example:
    >>> schema = strawberry.Schema(query=Query, extensions=[InputGuard])  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from graphql.utilities import validate_input_value
from strawberry.extensions import SchemaExtension

from graphql import (
    ArgumentNode,
    DocumentNode,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    ListValueNode,
    Node,
    ObjectValueNode,
    OperationDefinitionNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    Visitor,
    get_operation_ast,
    is_input_type,
    type_from_ast,
    visit,
)

BAD_USER_INPUT = "BAD_USER_INPUT"
MAX_REPORTED = 5
"""Problems reported per request: enough to fix a form, short for a hostile list."""


def string_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired UTF-16 surrogate (not valid Unicode)"
    return None


def path_text(base: str, path: list[str | int] | tuple[str | int, ...]) -> str:
    """``base`` then ``path``: ``input`` + ``["position", "lat"]`` is ``input.position.lat``."""
    text = base
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else step)
    return text


class _ArgumentPaths(Visitor):
    """Where each variable and each literal value node sits: its argument path."""

    def __init__(self) -> None:
        super().__init__()
        self.variables: dict[str, str] = {}
        self.nodes: dict[int, str] = {}
        self.strings: list[tuple[str, StringValueNode]] = []

    def enter_argument(self, node: ArgumentNode, *_args: object) -> None:
        self._walk(node.value, node.name.value)

    def _walk(self, value: ValueNode, path: str) -> None:
        stack: list[tuple[ValueNode, str]] = [(value, path)]
        while stack:
            current, where = stack.pop()
            self.nodes.setdefault(id(current), where)
            if isinstance(current, VariableNode):
                self.variables.setdefault(current.name.value, where)
            elif isinstance(current, StringValueNode):
                self.strings.append((where, current))
            elif isinstance(current, ObjectValueNode):
                for field in current.fields:
                    self.nodes.setdefault(id(field), f"{where}.{field.name.value}")
                    stack.append((field.value, f"{where}.{field.name.value}"))
            elif isinstance(current, ListValueNode):
                stack.extend((item, f"{where}[{i}]") for i, item in enumerate(current.values))


def _paths(document: DocumentNode) -> _ArgumentPaths:
    paths = _ArgumentPaths()
    visit(document, paths)
    return paths


def _bad_strings(value: Any, path: list[str | int]) -> Iterator[tuple[list[str | int], str]]:
    """(path, problem) for every string in a decoded JSON value that cannot be stored."""
    stack: list[tuple[Any, list[str | int]]] = [(value, path)]
    while stack:
        current, where = stack.pop()
        if isinstance(current, str):
            problem = string_problem(current)
            if problem:
                yield where, problem
        elif isinstance(current, dict):
            for key, item in current.items():
                key_problem = string_problem(key) if isinstance(key, str) else None
                if key_problem:
                    yield where, f"has a key that {key_problem}"
                stack.append((item, [*where, key if isinstance(key, str) else str(key)]))
        elif isinstance(current, list):
            stack.extend((item, [*where, i]) for i, item in enumerate(current))


def _error(field: str, problem: str, node: Node | None) -> GraphQLError:
    return GraphQLError(
        f"{field}: {problem}",
        nodes=[node] if node is not None else None,
        extensions={"code": BAD_USER_INPUT, "field": field},
    )


def variable_problems(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    variables: dict[str, Any],
    paths: _ArgumentPaths,
) -> list[GraphQLError]:
    """Every variable value checked against its declared type and for unstorable strings."""
    errors: list[GraphQLError] = []
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        if name not in variables:
            continue  # defaults come from the document and were validated with it
        declared = type_from_ast(schema, definition.type)
        if declared is None or not is_input_type(declared):
            continue  # the validator reports unknown types
        base = paths.variables.get(name, f"${name}")
        found: list[tuple[list[str | int], str]] = []

        def collect(error: GraphQLError, path: list[str | int], into: list[Any] = found) -> None:
            into.append((list(path), error.message))

        validate_input_value(variables[name], declared, collect)  # type: ignore[arg-type]
        found.extend(_bad_strings(variables[name], []))
        errors.extend(_error(path_text(base, path), message, definition) for path, message in found)
        if len(errors) >= MAX_REPORTED:
            break
    return errors[:MAX_REPORTED]


def literal_problems(paths: _ArgumentPaths) -> list[GraphQLError]:
    """String literals of the document that cannot be stored (``"\\u0000"``)."""
    errors = [
        _error(where, problem, node)
        for where, node in paths.strings
        if (problem := string_problem(node.value))
    ]
    return errors[:MAX_REPORTED]


def coded_validation_error(error: GraphQLError, paths: _ArgumentPaths) -> GraphQLError:
    """A validator error about a literal argument value, as BAD_USER_INPUT on that argument."""
    if (error.extensions or {}).get("code"):
        return error
    if error.nodes:
        node = error.nodes[0]
        field = None if isinstance(node, VariableNode) else paths.nodes.get(id(node))
    else:
        # Strawberry's scalars (Date, DateTime) re-raise their parse error without a node; the
        # message quotes the literal, which names the argument.
        field = next(
            (where for where, n in paths.strings if json.dumps(n.value) in error.message), None
        )
    if field is None:  # e.g. a variable in the wrong place: the document's fault, not input
        return error
    return GraphQLError(
        error.message,
        nodes=error.nodes,
        extensions={**(error.extensions or {}), "code": BAD_USER_INPUT, "field": field},
    )


class InputGuard(SchemaExtension):
    """Refuses bad scalar input before execution, with the argument at fault."""

    def on_validate(self) -> Iterator[None]:
        """Literal values the validator refused become BAD_USER_INPUT on their argument."""
        yield
        context = self.execution_context
        errors = context.pre_execution_errors
        if not errors or context.graphql_document is None:
            return
        paths = _paths(context.graphql_document)
        # The same list object is what the schema returns: rewrite it in place.
        errors[:] = [coded_validation_error(error, paths) for error in errors]

    def on_execute(self) -> Iterator[None]:
        """Variables and string literals are checked; a problem answers without executing."""
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.result is None:
            operation = get_operation_ast(document, context.operation_name)
            if operation is not None:
                paths = _paths(document)
                problems = literal_problems(paths) or variable_problems(
                    context.schema._schema, operation, context.variables or {}, paths
                )
                if problems:
                    context.result = ExecutionResult(data=None, errors=problems)
        yield


__all__ = ["InputGuard", "path_text", "string_problem"]
