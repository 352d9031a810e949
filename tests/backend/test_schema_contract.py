"""The exported SDL is the contract: it must match the code, and graphql/ stays non-Python."""

from __future__ import annotations

from pathlib import Path

from backend.api.schema import schema_sdl

ROOT = Path(__file__).resolve().parents[2]


def test_schema_file_matches_the_code() -> None:
    exported = (ROOT / "graphql" / "schema.graphql").read_text()
    assert exported == schema_sdl(), "graphql/schema.graphql drifted: run `fieldrep schema export`"


def test_graphql_folder_is_not_a_python_package() -> None:
    """With an __init__.py there, `import graphql` would shadow graphql-core and break Strawberry."""
    assert not (ROOT / "graphql" / "__init__.py").exists()
    assert not list((ROOT / "graphql").rglob("*.py"))
