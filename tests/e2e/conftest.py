"""A real fieldrep server with the Liechtenstein demo, and Chromium at a phone viewport.

The server runs as a subprocess (``fieldrep demo --no-serve`` then ``fieldrep serve``) on a
free port with its own data folder, so the tests exercise exactly what a user gets. Chromium is
Debian's (``/usr/bin/chromium``); without it the tests skip locally and fail in CI.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

CHROMIUM = Path(os.environ.get("FIELDREP_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "fieldrep-demo"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "en-GB",
    "timezone_id": "Europe/Vaduz",
    # Vaduz, inside the demo region.
    "geolocation": {"latitude": 47.1410, "longitude": 9.5209},
    "permissions": ["geolocation"],
}
# Planning a day runs the route solver on first request: allow it time, assert no timings.
expect.set_options(timeout=30_000)
_CLI = [sys.executable, "-c", "from backend.cli.main import app; app()"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """The running server: its URL and a helper to call the API as a demo user."""

    url: str
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, email: str) -> str:
        if email not in self.tokens:
            r = httpx.post(f"{self.url}/auth/token", data={"username": email, "password": PASSWORD})
            r.raise_for_status()
            self.tokens[email] = r.json()["access_token"]
        return self.tokens[email]

    def gql(self, email: str, query: str, **variables: object) -> dict[str, object]:
        r = httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {self.token(email)}"},
            timeout=60,
        )
        r.raise_for_status()
        body: dict[str, object] = r.json()
        assert not body.get("errors"), body
        data = body["data"]
        assert isinstance(data, dict)
        return data


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``fieldrep demo --no-serve`` into a temp data folder, then ``fieldrep serve``."""
    data_dir = tmp_path_factory.mktemp("e2e-data")
    env = {
        **os.environ,
        "FIELDREP_DATA_DIR": str(data_dir),
        "FIELDREP_ENVIRONMENT": "development",
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
    assert demo.returncode == 0, f"fieldrep demo failed:\n{demo.stdout}\n{demo.stderr}"
    port = _free_port()
    log = (data_dir / "server.log").open("w")
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
                pytest.fail(f"server did not start:\n{(data_dir / 'server.log').read_text()}")
            time.sleep(0.2)
        yield Server(url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless.

    Module-scoped on purpose: Playwright's sync API runs an event loop in the main thread while
    it is open, and the pytest-asyncio tests collected after the browser tests need it gone.
    """
    if not CHROMIUM.exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@dataclass
class Phone:
    """A fresh browser profile at a phone viewport, collecting console errors."""

    context: BrowserContext
    page: Page
    errors: list[str]
    server: Server

    def login(self, email: str) -> None:
        page = self.page
        page.goto(f"{self.server.url}/app/")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.locator("#tabs:not([hidden])").wait_for()

    def wait_for_service_worker(self) -> None:
        self.page.wait_for_function(
            "navigator.serviceWorker && navigator.serviceWorker.controller !== null"
        )

    def screenshot(self, name: str) -> None:
        """Save the top of the current screen to ``docs/screenshots/<name>``."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(SCREENSHOTS / name))


@pytest.fixture
def phone(browser: Browser, server: Server) -> Iterator[Phone]:
    """A phone-sized page; the test fails if the app logged any console error."""
    context = browser.new_context(**PHONE)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e}"))
    yield Phone(context, page, errors, server)
    context.close()
    assert errors == [], f"console errors: {errors}"
