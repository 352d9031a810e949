"""`fieldrep serve --workers N` refuses configurations where several processes cannot work."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from backend.cli.main import app


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "several workers need PostgreSQL"),
        (
            {"FIELDREP_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/postgres"},
            "several workers need FIELDREP_REDIS_URL",
        ),
    ],
)
def test_several_workers_without_postgres_and_redis_are_refused(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    """Without Redis each worker would relay into its own in-process bus, and a subscriber
    would hear only what its own process relayed: refused before anything starts."""
    full_env = {"FIELDREP_DATA_DIR": str(tmp_path), "FIELDREP_REDIS_URL": "", **env}
    result = CliRunner().invoke(app, ["serve", "--workers", "2"], env=full_env)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
