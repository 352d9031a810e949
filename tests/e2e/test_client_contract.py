"""What the PWA relies on, checked without a browser: its documents, its operations, its shell.

- Every ``graphql/operations/*.graphql`` file validates against the schema.
- Every feature key in ``mobile_client/js/operations.js`` names an operation that a published
  file defines (``app_*`` files are the app's own, so each of their candidates must exist).
- The app sends whole files (the production allowlist knows files by their text), and the cost
  budget charges only the operation that runs.
- The service worker precaches every module and stylesheet of the app, so it starts offline.
- ``index.html`` preloads every module on the way to "my day" (no import waterfall).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.api.limits import query_cost
from backend.api.schema import build_schema
from backend.settings import Settings
from graphql import OperationDefinitionNode, parse, validate

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "graphql" / "operations"
CLIENT = ROOT / "mobile_client"


def _published() -> dict[str, set[str]]:
    """Operation names defined in each published file (by file stem)."""
    return {
        path.stem: {
            d.name.value
            for d in parse(path.read_text()).definitions
            if isinstance(d, OperationDefinitionNode) and d.name is not None
        }
        for path in OPERATIONS.glob("*.graphql")
    }


def _client_operations() -> dict[str, list[tuple[str, str]]]:
    """``OPERATIONS`` of operations.js: feature key -> [(file, operationName), ...]."""
    text = (CLIENT / "js" / "operations.js").read_text()
    body = text[text.index("export const OPERATIONS = {") : text.index("};")]
    keys: dict[str, list[tuple[str, str]]] = {}
    pairs = r'\["\w+", "\w+"\]'
    for key, candidates in re.findall(rf"(\w+): \[\s*((?:{pairs},?\s*)+)\]", body):
        keys[key] = re.findall(r'\["(\w+)", "(\w+)"\]', candidates)
    return keys


@pytest.mark.parametrize("path", sorted(OPERATIONS.glob("*.graphql")), ids=lambda p: p.name)
def test_published_document_validates_against_the_schema(path: Path) -> None:
    """A document that does not validate would fail in the app at run time."""
    schema = build_schema(Settings(environment="development"))._schema
    assert validate(schema, parse(path.read_text())) == []


def test_every_client_feature_has_a_published_operation() -> None:
    """Each feature key resolves to an operation of a published file; app_* names all exist."""
    published = _published()
    operations = _client_operations()
    assert len(operations) >= 25, operations  # the parser found the table
    for key, candidates in operations.items():
        assert any(name in published.get(file, set()) for file, name in candidates), key
        for file, name in candidates:
            if file.startswith("app_"):
                assert name in published[file], f"{key}: {file}.graphql has no {name}"


def test_whole_document_costs_only_the_operation_that_runs() -> None:
    """app_day.graphql also holds the re-plan (a solver run): loading the plan is not charged it."""
    document = parse((OPERATIONS / "app_day.graphql").read_text())
    my_day = query_cost(document, {}, "AppMyDay")
    replan = query_cost(document, {}, "AppReplanMyDay")
    assert my_day + replan == query_cost(document, {})
    assert my_day < replan


def test_service_worker_precaches_the_whole_app_shell() -> None:
    """Every module, stylesheet and the map library are in sw.js's SHELL_FILES."""
    sw = (CLIENT / "sw.js").read_text()
    listed = set(re.findall(r'^\s*"([^"]+)",$', sw[sw.index("const SHELL_FILES") :], re.MULTILINE))
    wanted = {
        str(p.relative_to(CLIENT)) for p in [*CLIENT.glob("js/**/*.js"), *CLIENT.glob("css/*.css")]
    }
    wanted |= {"vendor/leaflet/leaflet.js", "vendor/leaflet/leaflet.css", "index.html"}
    assert wanted <= listed, sorted(wanted - listed)


def _static_imports(module: Path, seen: set[Path] | None = None) -> set[Path]:
    """``module`` and every module it imports statically (``import ... from "./x.js"``)."""
    seen = seen if seen is not None else set()
    if module in seen:
        return seen
    seen.add(module)
    for target in re.findall(
        r'^import [^;]*? from "(\.[^"]+)";', module.read_text(), re.MULTILINE | re.DOTALL
    ):
        _static_imports((module.parent / target).resolve(), seen)
    return seen


def test_index_preloads_every_module_of_the_first_screen() -> None:
    """main.js and "my day" (screens/day.js) with all they import are modulepreloaded."""
    index = (CLIENT / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="([^"]+)">', index))
    needed = _static_imports((CLIENT / "js" / "main.js").resolve())
    _static_imports((CLIENT / "js" / "screens" / "day.js").resolve(), needed)
    wanted = {str(p.relative_to(CLIENT.resolve())) for p in needed}
    assert len(wanted) >= 10, wanted
    assert wanted <= preloaded, sorted(wanted - preloaded)
