"""The PWA against hostile data and an unreliable server, in Chromium.

- Stored XSS: accounts and territories named like markup (as an import could name them) show
  as literal text on the map's stop popup and territory tooltip, in the lists, and in the
  start-up snapshot; nothing runs. Checked with the page's CSP bypassed, so the rendering
  itself is what is tested.
- The Content-Security-Policy: present on the app, silent in normal use (no violation on any
  screen, rep or manager), and an injected inline script or handler is refused.
- The offline queue: a check-in the server refuses (BAD_USER_INPUT) does not hold back the
  one after it; it stays on screen with the server's reason, "Retry" and "Discard". A server
  that is briefly unavailable or keeps failing one entry is retried with back-off while the
  others go through.

The data is seeded into this module's own demo server (renamed in its SQLite database before
anyone logs in), so the shared server of the other e2e tests keeps its names.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.e2e.conftest import Phone, open_phone, start_server
from tests.e2e.server import Server

pytestmark = pytest.mark.e2e

IMG = "<img src=x onerror=window.__xss=1>"
SVG = "<svg onload=window.__xss=2>"
TERRITORY = "<img src=x onerror=window.__xss=3> North"
REP = "rep1@demo.fieldrep"
#: Records every CSP violation the page meets (before any of its scripts run).
VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI || ""}`.trim());
});
"""


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A demo whose account and territory names are markup, as a CSV import could make them."""
    for running in start_server(tmp_path_factory):
        with sqlite3.connect(running.database) as db:
            db.execute(
                "UPDATE accounts SET name = CASE WHEN id % 2 = 0 THEN ? ELSE ? END || ' #' || id",
                (IMG, SVG),
            )
            db.execute("UPDATE territories SET name = ?", (TERRITORY,))
        yield running


def _no_script_ran(page: Page) -> None:
    assert page.evaluate("typeof window.__xss") == "undefined", "injected markup ran"


def _hover_until_tooltip(page: Page, selector: str) -> str:
    """Move the mouse over the map until a territory tooltip opens; its text."""
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    assert box
    tooltip = page.locator(f"{selector} .leaflet-tooltip")
    steps = (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8)
    for _ in range(10):  # the outline is drawn after the route: give it time
        for fy in steps:
            for fx in steps:
                page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy)
                if tooltip.count():
                    return tooltip.first.inner_text()
        page.wait_for_timeout(500)
    raise AssertionError("no territory tooltip opened anywhere on the map")


def test_markup_in_names_shows_as_text_everywhere(browser: Browser, hostile_server: Server) -> None:
    """Stop popup, territory tooltip, stop list, accounts, detail and snapshot: text, not HTML."""
    phone = open_phone(browser, hostile_server, bypass_csp=True)
    page = phone.page
    try:
        phone.login(REP)
        day_map = page.locator("#day-map")
        expect(day_map).to_have_attribute("data-stops", re.compile(r"^[1-9]\d*$"))
        first = page.locator("#stop-list > li[data-stop] .name").first
        expect(first).to_have_text(re.compile(r"^<(img|svg) "))
        name = first.inner_text()

        # The stop popup (Leaflet's bindPopup): the name as text, no element made from it.
        page.locator("#day-map .leaflet-marker-icon .stop-icon").first.click()
        popup = page.locator("#day-map .leaflet-popup-content")
        expect(popup).to_contain_text(name)
        expect(popup.locator("img, svg")).to_have_count(0)

        # The territory tooltip (Leaflet's bindTooltip).
        page.locator("#day-map .leaflet-popup-close-button").click()
        assert TERRITORY in _hover_until_tooltip(page, "#day-map")
        expect(page.locator("#day-map .leaflet-tooltip img")).to_have_count(0)

        page.get_by_role("link", name="Accounts").click()
        expect(page.locator("#account-list > li .name").first).to_have_text(re.compile(r"^<"))
        page.locator("#account-list > li").first.get_by_role("link").click()
        expect(page.locator("#view h2")).to_have_text(re.compile(r"^<(img|svg) "))
        expect(page.locator("#view img, #view svg")).to_have_count(0)

        # The next start paints the stop list from its snapshot before any module loads.
        page.goto(f"{hostile_server.url}/app/#/day")
        page.reload()
        expect(page.locator("#stop-list > li[data-stop] .name").first).to_have_text(name)
        expect(page.locator("#view img")).to_have_count(0)
        _no_script_ran(page)
    finally:
        phone.context.close()
    phone.assert_clean()


def test_manager_map_tooltip_and_legend_show_names_as_text(
    browser: Browser, hostile_server: Server
) -> None:
    """The manager's territory map: tooltips are text too."""
    phone = open_phone(browser, hostile_server, bypass_csp=True)
    page = phone.page
    try:
        phone.login("manager@demo.fieldrep")
        expect(page.locator("#territory-map")).to_have_attribute(
            "data-territories", re.compile(r"^[1-9]\d*$")
        )
        assert TERRITORY in _hover_until_tooltip(page, "#territory-map")
        expect(page.locator("#territory-map .leaflet-tooltip img")).to_have_count(0)
        _no_script_ran(page)
    finally:
        phone.context.close()
    phone.assert_clean()


def test_csp_is_silent_in_use_and_refuses_injected_script(
    browser: Browser, hostile_server: Server
) -> None:
    """Every screen, rep and manager, runs under the CSP with no violation; injected inline
    script and handlers are refused (and reported)."""
    answer = httpx.get(f"{hostile_server.url}/app/")
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy

    for email, screens in (
        (REP, ["day", "accounts", "inbox", "settings", "sync"]),
        ("manager@demo.fieldrep", ["manager", "accounts", "inbox", "settings"]),
    ):
        phone = open_phone(browser, hostile_server)
        phone.context.add_init_script(VIOLATIONS)
        page = phone.page
        try:
            phone.login(email)
            phone.wait_for_service_worker()
            for screen in screens:
                page.goto(f"{hostile_server.url}/app/#/{screen}")
                expect(page.locator("#view")).to_have_attribute("data-screen", screen)
                if screen == "day":
                    expect(page.locator("#day-map")).to_have_attribute(
                        "data-roads", re.compile(r"^\d+$")
                    )
                    page.locator("#day-map .leaflet-marker-icon .stop-icon").first.click()
                    expect(page.locator("#day-map .leaflet-popup-content")).to_be_visible()
                if screen == "manager":
                    expect(page.locator(".legend .swatch").first).to_be_visible()
                    # On a busy machine the first click can reach the button before the
                    # screen wires it (or while it re-renders): click until it answers.
                    result = page.locator("#compare-result")
                    for _ in range(6):
                        page.get_by_role("button", name="Compare").click()
                        try:
                            expect(result).to_contain_text("accounts move", timeout=5_000)
                            break
                        except AssertionError:
                            continue
                    expect(result).to_contain_text("accounts move")
                if screen == "accounts":
                    page.locator("#account-list > li").first.get_by_role("link").click()
                    expect(page.get_by_role("button", name="Check in")).to_be_enabled()
                page.wait_for_timeout(300)
                assert page.evaluate("window.__violations") == [], (email, screen)
            phone.assert_clean()

            # An attacker's markup, had it reached the DOM: refused, not run.
            page.evaluate(
                """() => {
                  document.body.insertAdjacentHTML("beforeend", '<img src="x" onerror="window.__xss=1">');
                  const s = document.createElement("script");
                  s.textContent = "window.__xss = 2";
                  document.body.append(s);
                }"""
            )
            page.wait_for_function("() => window.__violations.length >= 2")
            _no_script_ran(page)
            violated = " ".join(page.evaluate("window.__violations"))
            assert "script-src-elem" in violated
            assert "script-src-attr" in violated
        finally:
            phone.context.close()


def _visit_count(server: Server, email: str, account_id: str) -> int:
    data = server.gql(
        email,
        "query($id: ID!) { account(id: $id) { lastVisitAt } }",
        id=account_id,
    )
    return 0 if data["account"]["lastVisitAt"] is None else 1  # type: ignore[index]


def _open_account(phone: Phone, index: int) -> tuple[str, str]:
    """Open the index-th account of the list; its (id, name)."""
    page = phone.page
    page.goto(f"{phone.server.url}/app/#/accounts")
    item = page.locator("#account-list > li").nth(index)
    expect(item).to_be_visible()
    account_id = item.get_attribute("data-account-id")
    name = item.locator(".name").inner_text()
    assert account_id
    # Go by the link's address rather than a click: the list re-renders when the network's
    # answer follows the cached one, and a click can land on the row being replaced.
    href = item.get_by_role("link").get_attribute("href")
    assert href
    page.goto(f"{phone.server.url}/app/{href}")
    expect(page.get_by_role("button", name="Check in")).to_be_enabled()
    return account_id, name


def test_refused_check_in_does_not_hold_back_the_next_and_stays_visible(
    browser: Browser, hostile_server: Server
) -> None:
    """Offline: a check-in the server will refuse (notes over its limit), then a good one.
    Online: the good one syncs; the bad one shows the server's reason with Retry and Discard,
    and both work."""
    email = "rep2@demo.fieldrep"
    phone = open_phone(browser, hostile_server)
    page = phone.page
    try:
        phone.login(email)
        phone.wait_for_service_worker()
        bad_id, _ = _open_account(phone, 1)
        good_id, _ = _open_account(phone, 2)
        phone.context.set_offline(True)
        page.evaluate(
            """async (id) => {
              const outbox = await import("/app/js/outbox.js");
              await outbox.checkIn({
                account: { id, name: "bad" }, position: { lat: 47.14, lon: 9.52, accuracyM: null },
                notes: "x".repeat(5000),
              });
            }""",
            bad_id,
        )
        page.get_by_label("Notes").fill("Good visit.")
        page.get_by_role("button", name="Check in").click()
        expect(page.locator("#sync-badge")).to_have_text("Offline · 2 waiting to sync")

        phone.context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        good = page.locator("[data-visit]").first
        expect(good).to_have_attribute("data-synced", "true")
        expect(page.locator("#sync-badge")).to_have_text("Synced · 1 failed")
        assert _visit_count(hostile_server, email, good_id) == 1
        assert _visit_count(hostile_server, email, bad_id) == 0

        review = page.locator("#sync-review")
        expect(review).to_be_visible()
        review.click()
        failed = page.locator("#outbox-list > li[data-state='failed']")
        expect(failed).to_have_count(1)
        expect(failed.locator(".outbox-reason")).to_contain_text("Not accepted: notes are limited")
        expect(failed.locator(".outbox-reason")).to_contain_text("(notes)")
        phone.screenshot("sync-refused.png")

        # Retry sends it again (and the server refuses it again, for the same reason).
        with page.expect_request(
            lambda r: r.url.endswith("/graphql") and '"CheckIn"' in (r.post_data or "")
        ):
            failed.get_by_role("button", name="Retry").click()
        expect(failed.locator(".outbox-reason")).to_contain_text("notes are limited")

        # The account screen shows it too, with the same actions.
        page.goto(f"{hostile_server.url}/app/#/account/{bad_id}")
        problem = page.locator(".outbox-problem[data-state='failed']")
        expect(problem).to_contain_text("Not accepted")
        expect(page.locator("[data-visit]").first).to_contain_text("not accepted")

        # Discard: gone from the outbox and from this device's visits.
        page.once("dialog", lambda d: d.accept())
        problem.get_by_role("button", name="Discard").click()
        expect(page.locator("#sync-badge")).to_have_text("Synced")
        expect(page.locator("#sync-review")).to_be_hidden()
        expect(page.locator("[data-visit]")).to_have_count(0)
        assert _visit_count(hostile_server, email, bad_id) == 0
    finally:
        phone.context.close()
    phone.assert_clean()


def test_temporary_failures_back_off_while_the_rest_goes_through(
    browser: Browser, hostile_server: Server
) -> None:
    """The server fails one check-in every time (INTERNAL_SERVER_ERROR) and is briefly
    unavailable (503, Retry-After) for the next: the second syncs on its own after the pause,
    the first keeps retrying with back-off and is shown as such.

    The failures are injected by routing the page's requests (the service worker is off for
    this page, so the routes see them); everything else reaches the real server.
    """
    email = "rep3@demo.fieldrep"
    phone = open_phone(browser, hostile_server, service_workers="block")
    page = phone.page
    failing: dict[str, int] = {"internal": 0, "unavailable": 0}
    state: dict[str, str] = {}

    def route(r: Route) -> None:
        body = json.loads(r.request.post_data or "{}")
        if body.get("operationName") != "CheckIn":
            r.continue_()
            return
        account = body["variables"]["input"]["accountId"]
        if account == state["broken"]:
            failing["internal"] += 1
            r.fulfill(
                status=200,
                content_type="application/json",
                body=json.dumps(
                    {
                        "data": None,
                        "errors": [
                            {"message": "boom", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}
                        ],
                    }
                ),
            )
        elif failing["unavailable"] == 0:
            failing["unavailable"] += 1
            r.fulfill(
                status=503,
                content_type="application/json",
                headers={"Retry-After": "1"},
                body=json.dumps({"code": "UNAVAILABLE", "retryable": True, "message": "db down"}),
            )
        else:
            r.continue_()

    try:
        phone.login(email)
        broken_id, _ = _open_account(phone, 1)
        good_id, _ = _open_account(phone, 3)
        state["broken"] = broken_id
        page.route("**/graphql", route)
        phone.context.set_offline(True)
        page.evaluate(
            """async (id) => {
              const outbox = await import("/app/js/outbox.js");
              await outbox.checkIn({ account: { id, name: "broken" }, position: { lat: 47.14, lon: 9.52, accuracyM: null } });
            }""",
            broken_id,
        )
        page.get_by_role("button", name="Check in").click()
        expect(page.locator("#sync-badge")).to_have_text("Offline · 2 waiting to sync")
        phone.context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")

        # Paused after the 503, then sent again without anyone asking.
        expect(page.locator("[data-visit]").first).to_have_attribute(
            "data-synced", "true", timeout=20_000
        )
        assert failing["unavailable"] == 1
        assert _visit_count(hostile_server, email, good_id) == 1
        expect(page.locator("#sync-badge")).to_have_text("1 waiting to sync")
        page.locator("#sync-review").click()
        retrying = page.locator("#outbox-list > li[data-state='retrying']")
        expect(retrying.locator(".outbox-reason")).to_contain_text("boom")
        assert failing["internal"] >= 1
    finally:
        phone.context.close()
    # The injected failures are not console errors of the app.
    assert phone.unpublished == []
