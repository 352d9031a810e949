"""docker-compose.yml must stay a valid, coherent deployment even though no Docker engine runs here.

Checks what `docker compose config` would reject (unknown dependencies, bad conditions, missing
required variables) and what would break at run time (commands that the CLI does not have).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from backend.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


def test_services_and_dependencies_are_coherent() -> None:
    services = COMPOSE["services"]
    assert {"postgis", "redis", "api", "worker"} <= set(services)
    for name, service in services.items():
        for dependency, spec in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown service {dependency}"
            assert spec["condition"] in CONDITIONS
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dependency], f"{dependency} has no healthcheck"
    for name in ("postgis", "redis", "api"):
        assert services[name]["healthcheck"]["test"], name
    for volume_spec in (v for s in services.values() for v in s.get("volumes", [])):
        volume = volume_spec.split(":", 1)[0]
        assert volume in COMPOSE["volumes"], f"undeclared volume {volume}"


def test_production_settings_are_complete() -> None:
    env = COMPOSE["services"]["api"]["environment"]
    assert env["FIELDREP_ENVIRONMENT"] == "production"
    assert env["FIELDREP_SECRET_KEY"].startswith("${FIELDREP_SECRET_KEY:?"), (
        "secret must be required"
    )
    assert "postgis:5432" in env["FIELDREP_DATABASE_URL"]
    assert env["FIELDREP_REDIS_URL"].startswith("redis://redis:")


@pytest.mark.parametrize("service", ["api", "worker", "migrate"])
def test_service_commands_exist_in_the_cli(service: str) -> None:
    command = COMPOSE["services"][service]["command"]
    argv = command if isinstance(command, list) else shlex.split(command)
    assert argv[0] == "fieldrep"
    result = CliRunner().invoke(app, [*argv[1:2], "--help"])
    assert result.exit_code == 0, f"`fieldrep {argv[1]}` does not exist: {result.output}"
