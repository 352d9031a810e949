"""A real fieldrep server with the Liechtenstein demo, and Chromium at a phone viewport.

The server runs as a subprocess (``fieldrep demo --no-serve`` then ``fieldrep serve``) on a
free port with its own data folder, so the tests exercise exactly what a user gets. Chromium is
Debian's (``/usr/bin/chromium``); without it the tests skip locally and fail in CI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    Request,
    WebSocket,
    expect,
    sync_playwright,
)

from backend.api.limits import load_trusted_documents
from tests.e2e.server import PASSWORD, Server, ServerError, demo_server

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
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
#: The exact texts the server's production allowlist accepts (one per operations file).
PUBLISHED = set(load_trusted_documents(ROOT / "graphql" / "operations").values())
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


def start_server(
    tmp_path_factory: pytest.TempPathFactory,
    environment: str = "development",
    extra_env: dict[str, str] | None = None,
) -> Iterator[Server]:
    """Yield a demo server in a fresh data folder (for fixtures); fail the test if it cannot."""
    data_dir = tmp_path_factory.mktemp(f"e2e-{environment}")
    try:
        with demo_server(data_dir, environment, extra_env) as running:
            yield running
    except ServerError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``fieldrep demo --no-serve`` into a temp data folder, then ``fieldrep serve``."""
    yield from start_server(tmp_path_factory)


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
    """A fresh browser profile at a phone viewport, collecting console errors.

    It also records every GraphQL document the page sends (HTTP and WebSocket) that is not, to
    the character, one of ``graphql/operations/*.graphql``: production runs nothing else.
    """

    context: BrowserContext
    page: Page
    errors: list[str]
    server: Server
    unpublished: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.page.on("request", self._check_request)
        self.page.on("websocket", self._check_websocket)

    def _check_document(self, raw: str | bytes | None) -> None:
        try:
            body = json.loads(raw or "null")
        except ValueError:
            return
        payload = body.get("payload", body) if isinstance(body, dict) else None
        query = payload.get("query") if isinstance(payload, dict) else None
        if query is not None and query not in PUBLISHED:
            name = payload.get("operationName") if isinstance(payload, dict) else None
            self.unpublished.append(f"{name}: {str(query)[:80]!r}")

    def _check_request(self, request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/graphql"):
            self._check_document(request.post_data)

    def _check_websocket(self, socket: WebSocket) -> None:
        socket.on("framesent", self._check_document)

    def login(self, email: str) -> None:
        page = self.page
        page.goto(f"{self.server.url}/app/")
        page.get_by_label("E-mail").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.locator("#tabs:not([hidden])").wait_for()

    def wait_for_service_worker(self) -> None:
        # Predicates are written as functions: Playwright compiles those through the DevTools
        # protocol, while a bare expression is eval'ed in the page, which the app's CSP
        # (no 'unsafe-eval') refuses as soon as the first check fails and polling starts.
        self.page.wait_for_function(
            "() => navigator.serviceWorker && navigator.serviceWorker.controller !== null"
        )

    def screenshot(self, name: str, at: Locator | None = None) -> None:
        """Save the screen to ``docs/screenshots/<name>``: its top, or scrolled to ``at``."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if at is None:
            self.page.evaluate("window.scrollTo(0, 0)")
        else:
            self.page.evaluate("document.getElementById('toasts').replaceChildren()")
            at.evaluate("el => el.scrollIntoView({block: 'center'})")
        self.page.screenshot(path=str(SCREENSHOTS / name))

    def assert_clean(self) -> None:
        """No console errors, and only published documents were sent."""
        assert self.errors == [], f"console errors: {self.errors}"
        assert self.unpublished == [], f"documents not in graphql/operations/: {self.unpublished}"


def open_phone(browser: Browser, server: Server, **overrides: object) -> Phone:
    """A new phone-sized browser profile (``PHONE`` settings, with ``overrides``)."""
    context = browser.new_context(**{**PHONE, **overrides})  # type: ignore[arg-type]
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(f"uncaught: {e} {e.stack}"))
    return Phone(context, page, errors, server)


@pytest.fixture
def phone(browser: Browser, server: Server) -> Iterator[Phone]:
    """A phone-sized page; the test fails on console errors or unpublished documents."""
    device = open_phone(browser, server)
    yield device
    device.context.close()
    device.assert_clean()
