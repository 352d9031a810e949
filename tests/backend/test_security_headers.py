"""HTTP answers carry the security headers (``backend/api/security_headers.py``).

The app's page gets a Content-Security-Policy that refuses inline script (an injected
``<img onerror>`` cannot run), nothing is sniffed, framed or sent a referrer, and answers that
may hold a user's data are never stored by a cache. ``/healthz`` tells no process id.
"""

from __future__ import annotations

import os
import re
from html.parser import HTMLParser
from pathlib import Path

import httpx

from backend.settings import Settings
from tests.conftest import Api, World

INDEX = Path(__file__).resolve().parents[2] / "mobile_client" / "index.html"


def _policy(response: httpx.Response) -> dict[str, list[str]]:
    """The CSP as {directive: [sources]}."""
    header = response.headers.get("content-security-policy")
    assert header, f"no CSP on {response.url}"
    policy: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *sources = part.split()
        policy[name] = sources
    return policy


def _assert_common(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "no-referrer"


async def test_app_page_has_a_csp_refusing_inline_script(api: Api) -> None:
    """index.html: script-src 'self' only; no plugins, no <base>, no framing; own WebSocket."""
    response = await api.client.get("/app/")
    assert response.status_code == 200
    _assert_common(response)
    policy = _policy(response)
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'self'"]
    assert set(policy["connect-src"]) == {"'self'", "ws://test", "wss://test"}
    assert not any("unsafe" in s for sources in policy.values() for s in sources)


async def test_static_files_keep_their_caching(api: Api) -> None:
    """App files are revalidated by ETag as before: no ``no-store`` on them."""
    response = await api.client.get("/app/js/main.js")
    assert response.status_code == 200
    _assert_common(response)
    assert "no-store" not in response.headers.get("cache-control", "")
    assert response.headers.get("etag")


async def test_api_and_auth_answers_are_never_stored(api: Api, world: World) -> None:
    """``/graphql``, ``/auth/token`` (refused or not) and any bearer request: no-store."""
    refused = await api.client.post("/auth/token", data={"username": "x@x.test", "password": "no"})
    assert refused.status_code in (400, 401)
    assert refused.headers["cache-control"] == "no-store"
    login = await api.login("repa1@x.test", world.password)
    assert login.headers["cache-control"] == "no-store"
    _assert_common(login)
    auth = {"Authorization": f"Bearer {api.token}"}
    answer = await api.client.post("/graphql", json={"query": "{ me { id } }"}, headers=auth)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    _assert_common(answer)
    assert _policy(answer)["frame-ancestors"] == ["'none'"]
    anonymous = await api.client.post("/graphql", json={"query": "{ __typename }"})
    assert anonymous.headers["cache-control"] == "no-store"
    # A static file fetched with a bearer token is someone's request too.
    with_token = await api.client.get("/app/js/main.js", headers=auth)
    assert with_token.headers["cache-control"] == "no-store"


async def test_refusals_outside_the_routes_have_the_headers(api: Api, settings: Settings) -> None:
    """The body-size limit's 413 (answered before any route) carries them as well."""
    response = await api.client.post(
        "/graphql",
        content=b"x" * (settings.max_body_bytes + 1),
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    _assert_common(response)
    assert response.headers["cache-control"] == "no-store"


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            self._open = dict(attrs)

    def handle_data(self, data: str) -> None:
        if self._open is not None and "src" not in self._open and data.strip():
            self.inline.append(data.strip()[:60])

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


def test_index_has_no_inline_script_the_policy_would_block() -> None:
    """The page itself obeys the policy: every script is a file, no on* attributes."""
    parser = _Scripts()
    parser.feed(INDEX.read_text())
    assert parser.inline == []
    assert parser.handlers == []
    assert re.search(r'<script src="js/snapshot.js"></script>', INDEX.read_text())


async def test_healthz_does_not_tell_the_process_id(api: Api) -> None:
    """The public health answer names the worker by an opaque id, not its pid."""
    response = await api.client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert str(os.getpid()) not in response.text
    assert isinstance(body["process"], str)
    assert re.fullmatch(r"[0-9a-f]{12}", body["process"])
