"""A real fieldrep server with the Liechtenstein demo, as a user gets it.

``fieldrep demo --no-serve`` builds the demo into its own data folder, then ``fieldrep serve``
runs on a free port. Used by the end-to-end tests (``conftest.py``) and by
``bench/bench_first_paint.py``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "fieldrep-demo"
OPERATIONS = Path(__file__).resolve().parents[2] / "graphql" / "operations"
_CLI = [sys.executable, "-c", "from backend.cli.main import app; app()"]


class ServerError(RuntimeError):
    """The demo could not be built or the server did not start (the log is in the message)."""


def free_port() -> int:
    """A TCP port on loopback nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """The running server: its URL, data folder and a helper to call the API as a demo user."""

    url: str
    data_dir: Path
    tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    def token(self, email: str) -> str:
        """An access token for ``email``; logs in again a minute before the cached one expires
        (access tokens live 15 minutes, the e2e session longer)."""
        cached = self.tokens.get(email)
        if cached is None or cached[1] - time.monotonic() < 60:
            r = httpx.post(f"{self.url}/auth/token", data={"username": email, "password": PASSWORD})
            r.raise_for_status()
            body = r.json()
            self.tokens[email] = (body["access_token"], time.monotonic() + body["expires_in"])
        return self.tokens[email][0]

    def gql(self, email: str, query: str, **variables: object) -> dict[str, Any]:
        return self._post(email, {"query": query, "variables": variables})

    def operation(
        self, email: str, file: str, name: str, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run ``name`` from ``graphql/operations/<file>.graphql``, sent whole as the app does."""
        return self._post(
            email,
            {
                "query": (OPERATIONS / f"{file}.graphql").read_text(),
                "operationName": name,
                "variables": variables or {},
            },
        )

    def _post(self, email: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """POST a GraphQL request as ``email``; the answer's data, asserted free of errors."""
        r = httpx.post(
            f"{self.url}/graphql",
            json=payload,
            headers={"Authorization": f"Bearer {self.token(email)}"},
            timeout=60,
        )
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        assert not body.get("errors"), body
        data = body["data"]
        assert isinstance(data, dict)
        return data

    @property
    def database(self) -> Path:
        """The embedded SQLite database (the demo's default)."""
        return self.data_dir / "fieldrep.sqlite3"


@contextmanager
def demo_server(
    data_dir: Path, environment: str = "development", extra_env: dict[str, str] | None = None
) -> Iterator[Server]:
    """Build the demo into ``data_dir`` and serve it until the block ends.

    Args:
        data_dir: An empty folder for the database, keys and the server log.
        environment: ``FIELDREP_ENVIRONMENT`` (``test`` accepts loopback push endpoints;
            ``production`` runs only the published documents and needs a secret key).
        extra_env: More environment variables for both commands.

    Raises:
        ServerError: The demo build failed or the server did not answer ``/healthz`` in 60 s.
    """
    env = {
        **os.environ,
        "FIELDREP_DATA_DIR": str(data_dir),
        "FIELDREP_ENVIRONMENT": environment,
        **(extra_env or {}),
    }
    env.pop("FIELDREP_DATABASE_URL", None)
    env.pop("FIELDREP_REDIS_URL", None)
    if os.environ.get("FIELDREP_TEST_ROUTING_CACHE"):
        env["FIELDREP_ROUTING_CACHE_DIR"] = os.environ["FIELDREP_TEST_ROUTING_CACHE"]
    demo = subprocess.run(
        [*_CLI, "demo", "--no-serve"],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if demo.returncode != 0:
        raise ServerError(f"fieldrep demo failed:\n{demo.stdout}\n{demo.stderr}")
    port = free_port()
    log_path = data_dir / "server.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [*_CLI, "serve", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise ServerError(f"server did not start:\n{log_path.read_text()}")
                time.sleep(0.2)
            yield Server(url, data_dir)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


__all__ = ["PASSWORD", "Server", "ServerError", "demo_server", "free_port"]
