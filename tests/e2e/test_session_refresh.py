"""The PWA keeps its session with refresh tokens: renews before expiry and after a refused
token, and its logout ends the login on the server too (the refresh token stops working)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Phone
from tests.e2e.server import Server

pytestmark = pytest.mark.e2e

SESSION = "JSON.parse(localStorage.getItem('fieldrep.session'))"


def _spoil(phone: Phone, *, expired: bool) -> dict[str, object]:
    """Replace the stored access token by one with a broken signature (same subject, so the
    offline cache partition stays), optionally marked expired; returns the session before."""
    before: dict[str, object] = phone.page.evaluate(SESSION)
    phone.page.evaluate(
        """([expired]) => {
          const s = JSON.parse(localStorage.getItem('fieldrep.session'));
          const [h, p] = s.token.split('.');
          s.token = `${h}.${p}.broken-signature`;
          if (expired) s.expiresAt = Date.now() - 1000;
          localStorage.setItem('fieldrep.session', JSON.stringify(s));
        }""",
        [expired],
    )
    return before


def _refreshes(phone: Phone) -> list[str]:
    seen: list[str] = []
    phone.page.on(
        "request", lambda r: seen.append(r.url) if r.url.endswith("/auth/refresh") else None
    )
    return seen


def _open_accounts(phone: Phone) -> None:
    phone.page.get_by_role("link", name="Accounts").click()
    expect(phone.page.locator("#account-list > li").first).to_be_visible()


def test_an_expired_access_token_is_renewed_before_the_request(
    phone: Phone, server: Server
) -> None:
    phone.login("rep1@demo.fieldrep")
    login = phone.page.evaluate(SESSION)
    assert login["refreshToken"] and login["refreshExpiresAt"] > login["expiresAt"]
    refreshes = _refreshes(phone)
    _spoil(phone, expired=True)
    phone.page.reload()  # a phone opened after the access token's quarter of an hour
    _open_accounts(phone)
    after = phone.page.evaluate(SESSION)
    assert refreshes, "no POST /auth/refresh"
    assert after["refreshToken"] != login["refreshToken"]  # rotated
    assert after["token"] != login["token"] and not after["token"].endswith("broken-signature")
    assert after["refreshExpiresAt"] >= login["refreshExpiresAt"]


def test_a_refused_access_token_is_renewed_once_and_the_request_repeated(
    phone: Phone, server: Server
) -> None:
    phone.login("rep1@demo.fieldrep")
    refreshes = _refreshes(phone)
    before = _spoil(phone, expired=False)
    _open_accounts(phone)
    after = phone.page.evaluate(SESSION)
    assert len(refreshes) >= 1
    assert after["refreshToken"] != before["refreshToken"]
    expect(phone.page.locator("#tabs")).to_be_visible()  # still logged in


def test_logging_out_ends_the_login_on_the_server(phone: Phone, server: Server) -> None:
    phone.login("rep1@demo.fieldrep")
    stored = phone.page.evaluate(SESSION)
    with phone.page.expect_response(lambda r: r.url.endswith("/auth/logout")) as logged_out:
        phone.page.locator("#logout").click()
    assert logged_out.value.status == 204
    expect(phone.page.get_by_role("button", name="Log in")).to_be_visible()
    answer = httpx.post(
        f"{server.url}/auth/refresh", json={"refresh_token": stored["refreshToken"]}
    )
    assert answer.status_code == 401
