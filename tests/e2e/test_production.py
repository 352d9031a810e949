"""The PWA against a server in production mode, where only published documents run.

Production refuses any GraphQL text that is not, to the character, one of
``graphql/operations/*.graphql`` (PERSISTED_QUERY_NOT_FOUND). The app sends whole files, so a
rep's day, accounts and inbox work there as in development.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import open_phone, start_server
from tests.e2e.server import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def production_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    yield from start_server(
        tmp_path_factory, "production", {"FIELDREP_SECRET_KEY": secrets.token_urlsafe(48)}
    )


def test_rep_works_against_a_production_server(browser: Browser, production_server: Server) -> None:
    """My day, the account list, an account and the inbox load; no request is refused."""
    phone = open_phone(browser, production_server)
    frames: list[str] = []
    phone.page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))
    try:
        phone.login("rep1@demo.fieldrep")
        page = phone.page
        expect(page.locator("#day-map")).to_have_attribute("data-stops", re.compile(r"^[1-9]\d*$"))
        expect(page.locator("#day-map")).to_have_attribute("data-roads", re.compile(r"^\d+$"))
        page.get_by_role("link", name="Accounts").click()
        expect(page.locator("#account-list > li[data-account-id]").first).to_be_visible()
        page.locator("#account-list > li[data-account-id]").first.get_by_role("link").click()
        expect(page.get_by_role("button", name="Check in")).to_be_enabled()
        page.get_by_role("link", name="Inbox").click()
        expect(page.locator("#inbox-list > li").first).to_be_visible()
        expect(page.locator("[data-unavailable], .error")).to_have_count(0)
        # The live subscription (a whole document too) is accepted: acknowledged, no error.
        deadline = 50
        while not any("connection_ack" in f for f in frames) and deadline:
            page.wait_for_timeout(100)
            deadline -= 1
        assert any("connection_ack" in f for f in frames), frames
        page.wait_for_timeout(500)  # a refused subscribe answers at once
        assert not [f for f in frames if '"error' in f], frames
    finally:
        phone.context.close()
    phone.assert_clean()
