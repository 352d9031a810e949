"""A rep in the field: my day offline, check-out with notes and outcome, re-planning, "near me".

Each test drives the PWA in Chromium at a phone viewport and checks the result against the
server: the stored visit (the demo's SQLite database), the stored plan version, and the API's
own answer to the query the app sent.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sqlite3
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Geolocation, expect

from tests.e2e.conftest import Phone
from tests.e2e.server import Server

pytestmark = pytest.mark.e2e

VADUZ = ZoneInfo("Europe/Vaduz")
NEAR_RADIUS_M = 15000  # mobile_client/js/screens/accounts.js
MY_DAY = """query($d: Date!) { myDay(date: $d) { version replannedAt
  totals { stops } stops { name accountId lat lon } } }"""


def _visit_row(server: Server, client_id: str) -> dict[str, Any]:
    with sqlite3.connect(f"file:{server.database}?mode=ro", uri=True) as db:
        db.row_factory = sqlite3.Row
        row = db.execute("SELECT * FROM visits WHERE client_id = ?", (client_id,)).fetchone()
    assert row is not None, f"visit {client_id} is not stored"
    return dict(row)


def _today() -> str:
    return dt.datetime.now(VADUZ).date().isoformat()


def test_my_day_opens_offline_from_the_stored_copy(phone: Phone, server: Server) -> None:
    """Offline, "my day" shows at once the list as last shown (the start-up snapshot), then the
    stored plan read straight from Cache Storage, with its age; logging out forgets both."""
    email = "rep5@demo.fieldrep"
    phone.login(email)
    page = phone.page
    phone.wait_for_service_worker()
    expect(page.locator("#day-map")).to_have_attribute("data-roads", re.compile(r"^\d+$"))
    page.wait_for_function("() => localStorage.getItem('fieldrep.myDaySnapshot') !== null")
    plan = server.gql(email, MY_DAY, d=_today())["myDay"]

    phone.context.set_offline(True)
    page.reload()
    page.wait_for_function(
        "() => performance.getEntriesByName('fieldrep:my-day-stops').length > 0"
    )
    marks = page.evaluate(
        """() => Object.fromEntries(["fieldrep:my-day-snapshot", "fieldrep:my-day-stops"].map(
             (name) => [name, performance.getEntriesByName(name).map((m) => [m.startTime, m.detail])]))"""
    )
    ((snapshot_at, _),) = marks["fieldrep:my-day-snapshot"]
    ((stops_at, detail),) = marks["fieldrep:my-day-stops"]
    assert snapshot_at < stops_at
    assert detail == {"source": "cache", "stops": len(plan["stops"])}
    names = page.locator("#stop-list > li[data-stop] .name")
    expect(names).to_have_text([s["name"] for s in plan["stops"]])
    expect(page.locator("#view")).to_contain_text("Offline copy saved")
    # The map follows from the stored roads and route.
    expect(page.locator("#day-map")).to_have_attribute("data-stops", str(len(plan["stops"])))
    expect(page.locator("#day-map")).to_have_attribute("data-roads", re.compile(r"^\d+$"))

    phone.context.set_offline(False)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    assert page.evaluate("localStorage.getItem('fieldrep.myDaySnapshot')") is None


def test_check_out_with_notes_and_outcome_syncs_after_being_offline(
    phone: Phone, server: Server
) -> None:
    """Check in online; check out offline with notes and an outcome; both reach the server
    once online, on the same visit."""
    email = "rep1@demo.fieldrep"
    phone.login(email)
    page = phone.page
    phone.wait_for_service_worker()
    page.get_by_role("link", name="Accounts").click()
    item = page.locator("#account-list > li").nth(2)
    expect(item).to_be_visible()
    name = item.locator(".name").inner_text()
    item.get_by_role("link").click()
    expect(page.locator("#view").get_by_role("heading", level=2)).to_have_text(name)

    page.get_by_label("Notes").fill("Arrived; the owner is in.")
    page.get_by_role("button", name="Check in").click()
    visit = page.locator("[data-visit]").first
    expect(visit).to_have_attribute("data-synced", "true")
    expect(page.get_by_role("button", name="Check out")).to_be_enabled()
    client_id = visit.get_attribute("data-visit")
    assert client_id

    phone.context.set_offline(True)
    page.get_by_label("Notes").fill("Order: 12 cases, delivery on Friday.")
    page.get_by_label("Outcome").select_option("order")
    page.get_by_role("button", name="Check out").click()
    expect(page.locator("#sync-badge")).to_have_text("Offline · 1 waiting to sync")
    expect(visit).to_contain_text("Checked out")
    expect(visit).to_have_attribute("data-synced", "false")
    expect(visit.locator(".visit-outcome")).to_have_text("Outcome: order")
    expect(page.get_by_role("button", name="Check in")).to_be_enabled()

    phone.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#sync-badge")).to_have_text("Synced")
    expect(visit).to_have_attribute("data-synced", "true")
    expect(visit.locator(".visit-checkout-notes")).to_have_text(
        "Check-out notes: Order: 12 cases, delivery on Friday."
    )
    phone.screenshot("check-out.png", at=page.get_by_role("heading", name="Visits"))

    stored = _visit_row(server, client_id)
    assert stored["notes"] == "Arrived; the owner is in."
    assert stored["check_out_notes"] == "Order: 12 cases, delivery on Friday."
    assert stored["outcome"] == "order"
    assert stored["check_out_at"] is not None
    assert stored["check_out_client_id"] not in (None, client_id)


def test_replan_from_here_stores_a_new_version_and_shows_it(phone: Phone, server: Server) -> None:
    """ "Re-plan from here" sends the phone's position; the list shows the stored new version;
    offline, the button says it needs a connection."""
    email = "rep4@demo.fieldrep"  # no visits yet: the re-plan at 10:00 is consistent
    phone.login(email)
    page = phone.page
    stops = page.locator("#stop-list > li[data-stop]")
    expect(stops.first).to_be_visible()
    before = server.gql(email, MY_DAY, d=_today())["myDay"]
    assert isinstance(before, dict)
    # Re-plan at 10:00 local time (within the shift whenever the suite runs) from the last stop.
    last = before["stops"][-1]
    phone.context.set_geolocation({"latitude": last["lat"], "longitude": last["lon"]})
    ten = dt.datetime.combine(dt.datetime.now(VADUZ).date(), dt.time(10), VADUZ)
    page.clock.set_fixed_time(ten)

    page.get_by_role("button", name="Re-plan from here").click()
    expect(page.locator("#toasts")).to_contain_text("Route re-planned from your position.")
    after = server.gql(email, MY_DAY, d=_today())["myDay"]
    assert isinstance(after, dict)
    assert after["version"] == before["version"] + 1
    assert after["replannedAt"] is not None
    expect(stops.locator(".name")).to_have_text([s["name"] for s in after["stops"]])
    expect(page.locator("#day-map")).to_have_attribute("data-stops", str(len(after["stops"])))
    expect(page.locator("#view").get_by_role("status").first).to_contain_text(
        f"{after['totals']['stops']} stops"
    )
    phone.screenshot("rep-replanned.png")

    phone.context.set_offline(True)
    page.get_by_role("button", name="Re-plan from here").click()
    expect(page.locator("#toasts")).to_contain_text("Re-planning needs a connection.")
    phone.context.set_offline(False)


def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


def test_near_me_lists_accounts_around_the_phone_nearest_first(
    phone: Phone, server: Server
) -> None:
    """With the phone at the rep's outermost account, "Near me" shows exactly the API's
    accounts within 15 km of it, nearest first, and a second tap goes back to priority."""
    email = "rep3@demo.fieldrep"
    everything = server.operation(email, "accounts", "MyAccounts", {"first": 100})["myAccounts"]
    assert isinstance(everything, dict)
    nodes = [e["node"] for e in everything["edges"]]
    mean = (
        sum(n["location"]["lat"] for n in nodes) / len(nodes),
        sum(n["location"]["lon"] for n in nodes) / len(nodes),
    )
    outer = max(
        nodes, key=lambda n: _distance_m(mean, (n["location"]["lat"], n["location"]["lon"]))
    )
    here: Geolocation = {
        "latitude": outer["location"]["lat"],
        "longitude": outer["location"]["lon"],
    }
    phone.context.set_geolocation(here)

    phone.login(email)
    page = phone.page
    page.get_by_role("link", name="Accounts").click()
    status = page.locator("#view").get_by_role("status")
    expect(status).to_have_text(re.compile(rf"^{everything['totalCount']} accounts"))

    near_me = page.get_by_role("button", name="Near me")
    near_me.click()
    expect(near_me).to_have_attribute("aria-pressed", "true")
    expect(page.get_by_label("Order", exact=True)).to_have_value("DISTANCE")
    variables = {
        "first": 30,
        "after": None,
        "orderBy": "DISTANCE",
        "filter": {
            "near": {"lat": here["latitude"], "lon": here["longitude"], "radiusM": NEAR_RADIUS_M}
        },
    }
    near = server.operation(email, "accounts", "MyAccounts", variables)["myAccounts"]
    assert isinstance(near, dict)
    expected = [e["node"] for e in near["edges"]]
    assert expected[0]["id"] == outer["id"]
    assert all(n["distanceM"] <= NEAR_RADIUS_M for n in expected)
    expect(status).to_have_text(re.compile(rf"^{near['totalCount']} accounts"))
    items = page.locator("#account-list > li[data-account-id]")
    expect(items).to_have_count(len(expected))
    assert items.evaluate_all("els => els.map((e) => e.dataset.accountId)") == [
        n["id"] for n in expected
    ]
    expect(items.first).to_contain_text(f"{expected[0]['distanceM'] / 1000:.1f} km")
    shown_km = [
        float(t) for t in re.findall(r"· (\d+\.\d) km", page.locator("#account-list").inner_text())
    ]
    assert shown_km == sorted(shown_km) and len(shown_km) == len(expected)
    phone.screenshot("rep-near-me.png")

    near_me.click()
    expect(near_me).to_have_attribute("aria-pressed", "false")
    expect(page.get_by_label("Order", exact=True)).to_have_value("PRIORITY")
    expect(status).to_have_text(re.compile(rf"^{everything['totalCount']} accounts"))
