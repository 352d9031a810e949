"""The PWA in Chromium at a phone viewport against a real server with the demo data."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import Phone, open_phone
from tests.e2e.server import Server

pytestmark = pytest.mark.e2e

ACCOUNT_NAMES = """
query { myAccounts(first: 100) { totalCount edges { node { id name lastVisitAt } } } }
"""


def _names(server: Server, email: str) -> list[str]:
    data = server.gql(email, ACCOUNT_NAMES)
    edges = data["myAccounts"]["edges"]  # type: ignore[index]
    return [e["node"]["name"] for e in edges]


def test_rep_sees_day_route_accounts_and_detail(phone: Phone, server: Server) -> None:
    """A rep lands on today's route (roads, outline, numbered stops), then their accounts."""
    phone.login("rep1@demo.fieldrep")
    page = phone.page
    day_map = page.locator("#day-map")
    expect(day_map).to_have_attribute("data-mode", "roads")
    # Roads from the API, the route and the territory are drawn on Leaflet's canvas.
    expect(day_map).to_have_attribute("data-roads", re.compile(r"^\d+$"))
    expect(day_map.locator("canvas")).to_have_count(1)
    expect(day_map).to_have_attribute("data-stops", re.compile(r"^[1-9]\d*$"))
    expect(day_map.locator(".stop-icon").first).to_be_visible()
    expect(page.locator("#stop-list > li").first).to_be_visible()
    expect(page.get_by_text("© OpenStreetMap contributors")).to_be_visible()
    phone.screenshot("rep-map.png")

    page.get_by_role("link", name="Accounts").click()
    names = _names(server, "rep1@demo.fieldrep")
    items = page.locator("#account-list > li")
    expect(items.first).to_be_visible()
    shown = items.locator(".name").all_inner_texts()
    assert shown, "no accounts listed"
    assert set(shown) <= set(names)
    expect(page.get_by_text(re.compile(rf"^{len(names)} accounts"))).to_be_visible()
    phone.screenshot("rep-accounts.png")

    first = shown[0]
    items.first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=2)).to_have_text(first)
    expect(page.get_by_role("link", name="Navigate")).to_be_visible()
    expect(page.get_by_role("button", name="Check in")).to_be_enabled()
    phone.screenshot("account-detail.png")


def test_offline_check_in_is_queued_then_synced(phone: Phone, server: Server) -> None:
    """Offline: the shell and cached accounts load; a check-in waits, then syncs once online."""
    email = "rep2@demo.fieldrep"
    phone.login(email)
    page = phone.page
    phone.wait_for_service_worker()
    page.get_by_role("link", name="Accounts").click()
    first = page.locator("#account-list > li").first
    expect(first).to_be_visible()
    name = first.locator(".name").inner_text()
    account_id = first.get_attribute("data-account-id")
    first.get_by_role("link").click()
    expect(page.get_by_role("heading", level=2)).to_have_text(name)

    phone.context.set_offline(True)
    page.reload()
    # The app shell and the account come from the service worker's cache.
    expect(page.get_by_role("heading", level=2)).to_have_text(name)
    expect(page.locator("#sync-badge")).to_have_text("Offline")
    page.get_by_role("link", name="← Accounts").click()
    expect(page.locator("#account-list > li .name").first).to_have_text(name)
    page.locator("#account-list > li").first.get_by_role("link").click()
    page.get_by_label("Notes").fill("Met the owner; wants a demo next week.")
    page.get_by_role("button", name="Check in").click()
    expect(page.locator("#sync-badge")).to_have_text("Offline · 1 waiting to sync")
    expect(page.locator("[data-visit]").first).to_contain_text("waiting to sync")
    phone.screenshot("offline.png")

    phone.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#sync-badge")).to_have_text("Synced")
    expect(page.locator("[data-visit]").first).to_have_attribute("data-synced", "true")
    phone.screenshot("synced.png")

    # Server side: the visit exists (the account's last visit moved) and resending the same
    # client id answers with the same visit instead of a second one.
    client_id = page.locator("[data-visit]").first.get_attribute("data-visit")
    account = server.gql(
        email, "query($id: ID!) { account(id: $id) { lastVisitAt } }", id=account_id
    )
    assert account["account"]["lastVisitAt"]  # type: ignore[index]
    outbox_input = page.evaluate(
        """async (id) => new Promise((resolve) => {
            const req = indexedDB.open('fieldrep');
            req.onsuccess = () => {
              const tx = req.result.transaction('visits').objectStore('visits').get(id);
              tx.onsuccess = () => resolve(tx.result);
            };
        })""",
        client_id,
    )
    assert outbox_input["synced"] is True
    assert outbox_input["serverId"]


def test_manager_sees_territories_and_what_if(phone: Phone, server: Server) -> None:
    """A manager sees the team's territories coloured on the map and a what-if table."""
    phone.login("manager@demo.fieldrep")
    page = phone.page
    territory_map = page.locator("#territory-map")
    reps = server.gql("manager@demo.fieldrep", "{ reps { id } }")["reps"]
    expect(territory_map).to_have_attribute("data-territories", str(len(reps)))  # type: ignore[arg-type]
    expect(page.locator(".legend li")).to_have_count(len(reps))  # type: ignore[arg-type]
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#compare-result")).to_contain_text("accounts move")
    expect(page.locator("#coverage svg, #coverage .unavailable, #coverage p").first).to_be_visible()
    phone.screenshot("manager-territories.png")


def _draft_moving_one_account(server: Server, rep_email: str) -> str:
    """A what-if proposal, then one of ``rep_email``'s accounts moved to another rep by hand."""
    manager = "manager@demo.fieldrep"
    team = server.gql(manager, "{ me { teamId } }")["me"]["teamId"]  # type: ignore[index]
    job = server.gql(
        manager,
        "mutation($p: ProposeAlignmentInput!) { proposeAlignment(params: $p) { id state } }",
        p={"teamId": team, "name": "What-if e2e"},
    )["proposeAlignment"]
    deadline = time.monotonic() + 120
    while job["state"] not in ("done", "failed") and time.monotonic() < deadline:  # type: ignore[index]
        time.sleep(0.5)
        job = server.gql(
            manager,
            "query($id: ID!) { job(id: $id) { id state result } }",
            id=job["id"],  # type: ignore[index]
        )["job"]
    assert job["state"] == "done", job  # type: ignore[index]
    draft = job["result"]["alignmentId"]  # type: ignore[index]
    reps = server.gql(manager, "{ reps { id email } }")["reps"]
    other = next(r["id"] for r in reps if r["email"] != rep_email)  # type: ignore[union-attr]
    account = server.gql(rep_email, "{ myAccounts(first: 1) { edges { node { id } } } }")
    account_id = account["myAccounts"]["edges"][0]["node"]["id"]  # type: ignore[index]
    moved = server.gql(
        manager,
        """mutation($a: ID!, $mv: [AccountMoveInput!]!) {
             reassignAccounts(alignmentId: $a, moves: $mv, allowImbalance: true) { id }
           }""",
        a=draft,
        mv=[{"accountId": account_id, "repId": other}],
    )
    return str(moved["reassignAccounts"]["id"])  # type: ignore[index]


def test_realignment_reaches_the_rep_live(phone: Phone, server: Server, browser: Browser) -> None:
    """A manager commits a realignment in the app; the rep's open app shows the banner live."""
    rep_email = "rep3@demo.fieldrep"
    phone.login(rep_email)
    rep_page = phone.page
    expect(rep_page.locator("#day-map")).to_have_attribute("data-stops", re.compile(r"^\d+$"))
    draft = _draft_moving_one_account(server, rep_email)

    mphone = open_phone(browser, server)
    page = mphone.page
    try:
        mphone.login("manager@demo.fieldrep")
        expect(page.locator(f"#compare-b option[value='{draft}']")).to_have_count(1)
        page.locator("#compare-b").select_option(draft)
        page.get_by_role("button", name="Compare").click()
        expect(page.locator("#moves-table tbody tr")).to_have_count(1)
        mphone.screenshot("manager-whatif.png")
        page.once("dialog", lambda d: d.accept())
        page.get_by_role("button", name="Commit B (effective today)").click()
        expect(page.locator(f"#compare-b option[value='{draft}']")).to_contain_text("(active)")

        banner = rep_page.locator("#banner")
        expect(banner).to_be_visible()
        expect(banner).to_contain_text("Lost (1)")
        phone.screenshot("rep-territory-banner.png")
        banner.get_by_role("button", name="Acknowledge").click()
        expect(banner).to_be_hidden()

        page.reload()
        rep_name = server.gql(rep_email, "{ me { fullName } }")["me"]["fullName"]  # type: ignore[index]
        row = page.locator("#ack-list li", has_text=str(rep_name))
        expect(row.locator(".pill.ok")).to_have_text("acknowledged")
        mphone.screenshot("manager-acknowledgements.png")
    finally:
        mphone.context.close()
    mphone.assert_clean()
