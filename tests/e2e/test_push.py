"""Web Push in the PWA: the switch on the Settings screen, and the service worker's handlers.

What headless Chromium can and cannot do here (tried, not assumed):

- ``PushManager.subscribe`` cannot succeed: in a Playwright context (an incognito profile) it
  rejects at once ("Registration failed - permission denied"; Chromium has no push in incognito),
  and in a persistent profile it never settles (no push service is reachable from this machine).
- ``ServiceWorker.deliverPushMessage`` (Chrome DevTools Protocol) fires a real ``push`` event in
  the app's service worker, and ``registration.showNotification`` works headless.

So the round trip below is real everywhere except the one hop a browser vendor owns: the page's
``subscribe`` is replaced by a stand-in that answers with a device of a loopback push service
(``tests/notifications/push_peer.py``: it decrypts RFC 8291 bodies with the device's private key
and verifies the VAPID signature). Everything else runs for real: the switch, the permission,
the VAPID key from the API, ``registerPushSubscription``, the server's dispatcher encrypting and
signing a push when the rep's plan changes, the service worker showing it, and the click.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, CDPSession, expect

from notifications.events import AccountHandover, EventType, TerritoryChanged
from notifications.push_payload import build_push_payload
from tests.e2e.conftest import Phone, open_phone, start_server
from tests.e2e.server import Server
from tests.notifications.push_peer import Device, PushPeer

pytestmark = pytest.mark.e2e

REP = "rep4@demo.fieldrep"
VADUZ = ZoneInfo("Europe/Vaduz")

# Stands in for the browser's push service registration (see the module docstring). State lives
# in localStorage so the Settings screen finds the subscription again after a reload.
STUB = """
(() => {
  const device = %s;
  const KEY = "e2e.pushStub";
  const state = () => JSON.parse(localStorage.getItem(KEY) || '{"subscribed": false, "unsubscribed": 0}');
  const save = (s) => localStorage.setItem(KEY, JSON.stringify(s));
  const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const bytes = (text) => Uint8Array.from(atob(text.replace(/-/g, "+").replace(/_/g, "/")), (c) => c.charCodeAt(0));
  const subscription = (serverKey) => ({
    endpoint: device.endpoint,
    expirationTime: null,
    options: { userVisibleOnly: true, applicationServerKey: bytes(serverKey).buffer },
    toJSON: () => ({ endpoint: device.endpoint, expirationTime: null, keys: { p256dh: device.p256dh, auth: device.auth } }),
    unsubscribe: async () => {
      const s = state();
      s.subscribed = false;
      s.unsubscribed += 1;
      save(s);
      return true;
    },
  });
  PushManager.prototype.subscribe = async function (options) {
    const s = state();
    Object.assign(s, { subscribed: true, serverKey: b64url(options.applicationServerKey), userVisibleOnly: options.userVisibleOnly });
    save(s);
    return subscription(s.serverKey);
  };
  PushManager.prototype.getSubscription = async function () {
    const s = state();
    return s.subscribed ? subscription(s.serverKey) : null;
  };
})();
"""
NOTIFICATIONS = """async () => {
  const registration = await navigator.serviceWorker.ready;
  return (await registration.getNotifications()).map((n) => ({ title: n.title, body: n.body, tag: n.tag, data: n.data }));
}"""
CLICK_FIRST = """async () => {
  const [notification] = await self.registration.getNotifications();
  self.dispatchEvent(new NotificationEvent("notificationclick", { notification }));
}"""


class ThreadedPushPeer:
    """The loopback push service on its own event loop (Playwright's sync API owns this one)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.peer = PushPeer()

    def __enter__(self) -> PushPeer:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.peer.__aenter__(), self.loop).result(timeout=10)
        return self.peer

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.peer.__aexit__(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def push_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A demo server in the ``test`` environment, told to accept the loopback push service.

    Both settings are needed and neither is a default: the allowlist names the peer's host, and
    private hosts (with http and any port) are allowed outside production only.
    """
    yield from start_server(
        tmp_path_factory,
        "test",
        {"FIELDREP_PUSH_ALLOW_PRIVATE_HOSTS": "true", "FIELDREP_PUSH_ALLOWED_HOSTS": "127.0.0.1"},
    )


@pytest.fixture(scope="module")
def push_peer() -> Iterator[PushPeer]:
    with ThreadedPushPeer() as peer:
        yield peer


def morning() -> dt.datetime:
    """Today 10:00 in the demo's time zone: within the shift, whenever the tests run."""
    return dt.datetime.combine(dt.datetime.now(VADUZ).date(), dt.time(10), VADUZ)


def _subscriptions(server: Server) -> list[tuple[str, str, str, str]]:
    """(email, endpoint, p256dh, auth) of every stored push subscription."""
    with sqlite3.connect(f"file:{server.database}?mode=ro", uri=True) as db:
        return db.execute(
            "SELECT u.email, p.endpoint, p.p256dh, p.auth FROM push_subscriptions p "
            "JOIN users u ON u.id = p.user_id ORDER BY p.id"
        ).fetchall()


def _registration_id(phone: Phone) -> tuple[CDPSession, str]:
    """A DevTools session on the page and the id of the app's service worker registration."""
    cdp = phone.context.new_cdp_session(phone.page)
    found: dict[str, str] = {}

    def collect(event: dict[str, Any]) -> None:
        for registration in event["registrations"]:
            if not registration.get("isDeleted"):
                found[registration["scopeURL"]] = registration["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", collect)
    cdp.send("ServiceWorker.enable")
    scope = f"{phone.server.url}/app/"
    deadline = time.monotonic() + 10
    while scope not in found and time.monotonic() < deadline:
        phone.page.wait_for_timeout(100)
    assert scope in found, f"no service worker registration for {scope}: {found}"
    return cdp, found[scope]


def _deliver(phone: Phone, message: bytes | str) -> None:
    """A real push event in the app's service worker, as the browser fires one on arrival."""
    cdp, registration_id = _registration_id(phone)
    data = message.decode() if isinstance(message, bytes) else message
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": phone.server.url, "registrationId": registration_id, "data": data},
    )


def _notifications(phone: Phone, count: int) -> list[dict[str, Any]]:
    """Wait until the service worker shows ``count`` notifications; return them."""
    deadline = time.monotonic() + 10
    shown: list[dict[str, Any]] = phone.page.evaluate(NOTIFICATIONS)
    while len(shown) != count and time.monotonic() < deadline:
        phone.page.wait_for_timeout(100)
        shown = phone.page.evaluate(NOTIFICATIONS)
    assert len(shown) == count, shown
    return shown


def _click_notification(phone: Phone) -> None:
    """Dispatch ``notificationclick`` for the first notification inside the service worker.

    A real click cannot be made headless; the event runs the same handler (without the click's
    user activation, so ``focus()`` is refused and the handler goes on without it).
    """
    (worker,) = phone.context.service_workers
    worker.evaluate(CLICK_FIRST)


def _wait_delivered(peer: PushPeer, device: Device, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while len(peer.delivered(device)) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    delivered = peer.delivered(device)
    assert len(delivered) == count, [(r.status, r.error) for r in peer.received]
    return [r.json() for r in delivered]


def test_switch_registers_device_and_replan_arrives_as_notification(
    browser: Browser, push_server: Server, push_peer: PushPeer
) -> None:
    """Switch on -> the server pushes (encrypted, VAPID-signed) -> the phone shows it -> click
    opens "My day"; switch off -> the server forgets the device."""
    device = push_peer.add_device()
    phone = open_phone(browser, push_server)
    try:
        phone.context.add_init_script(
            STUB
            % json.dumps(
                {
                    "endpoint": device.subscription.endpoint,
                    "p256dh": device.subscription.p256dh,
                    "auth": device.subscription.auth,
                }
            )
        )
        phone.context.grant_permissions(["geolocation", "notifications"], origin=push_server.url)
        phone.login(REP)
        page = phone.page
        expect(page.locator("#stop-list > li").first).to_be_visible()
        phone.wait_for_service_worker()

        page.get_by_role("link", name="Settings").click()
        switch = page.get_by_role("switch", name="Notifications on this phone")
        expect(switch).to_be_enabled()
        expect(switch).not_to_be_checked()
        assert _subscriptions(push_server) == []
        switch.check()
        expect(page.locator("#push-card")).to_have_attribute("data-state", "on")
        expect(page.locator("#push-status")).to_contain_text("On:")
        phone.screenshot("settings-push.png")

        # Subscribed with the server's VAPID key, and the device is stored for this user.
        key = push_server.gql(REP, "{ vapidPublicKey }")["vapidPublicKey"]
        stub = page.evaluate("JSON.parse(localStorage.getItem('e2e.pushStub'))")
        assert stub["serverKey"] == key
        assert stub["userVisibleOnly"] is True
        sub = device.subscription
        assert _subscriptions(push_server) == [(REP, sub.endpoint, sub.p256dh, sub.auth)]

        # The rep's plan changes on the server: the dispatcher pushes to the device.
        push_server.gql(
            REP,
            "mutation($p: PositionInput!, $at: DateTime!) { replanMyDay(position: $p, at: $at) { version } }",
            p={"lat": 47.1410, "lon": 9.5209},
            at=morning().isoformat(),
        )
        (message,) = _wait_delivered(push_peer, device, 1)
        assert message["type"] == EventType.DAY_PLAN_UPDATED.value
        assert message["title"] == "Your day plan was updated"

        # The phone receives exactly those bytes: the service worker shows the notice.
        page.get_by_role("link", name="Accounts").click()
        _deliver(phone, json.dumps(message))
        (shown,) = _notifications(phone, 1)
        assert shown["title"] == message["title"]
        assert shown["body"] == message["body"]
        assert shown["tag"] == message["event_id"]
        assert shown["data"]["url"] == f"{push_server.url}/app/#/day"

        _click_notification(phone)
        expect(page).to_have_url(f"{push_server.url}/app/#/day")
        expect(page.locator("#stop-list > li").first).to_be_visible()
        _notifications(phone, 0)  # the click closed it

        page.get_by_role("link", name="Settings").click()
        expect(switch).to_be_checked()
        switch.uncheck()
        expect(page.locator("#push-card")).to_have_attribute("data-state", "off")
        assert _subscriptions(push_server) == []
        stub = page.evaluate("JSON.parse(localStorage.getItem('e2e.pushStub'))")
        assert stub == {**stub, "subscribed": False, "unsubscribed": 1}
    finally:
        phone.context.close()
    phone.assert_clean()


def test_push_handler_shows_each_kind_of_notice_and_opens_its_screen(phone: Phone) -> None:
    """Payloads as notifications/push_payload.py builds them: title and body shown, one
    notification per event id, and a click opens the screen for the notice's type."""
    phone.context.grant_permissions(["notifications"], origin=phone.server.url)
    phone.login("rep5@demo.fieldrep")
    phone.wait_for_service_worker()
    page = phone.page
    page.get_by_role("link", name="Settings").click()
    expect(page.locator("#view").get_by_role("heading", name="Settings")).to_be_visible()
    territory = TerritoryChanged(
        rep_id="5",
        territory_id="3",
        effective_date=dt.date(2026, 3, 1),
        gained=(AccountHandover("1", "Bäckerei Wolf"),),
        alignment_version_id="9",
    ).to_event()
    payload, truncated = build_push_payload(territory, cursor=7)
    assert not truncated
    _deliver(phone, payload)
    _deliver(phone, payload)  # a push service may deliver twice: still one notification
    (shown,) = _notifications(phone, 1)
    summary = territory.details().summary()
    assert (shown["title"], shown["body"]) == (summary.title, summary.body)
    assert shown["data"] == {
        "url": f"{phone.server.url}/app/#/inbox",
        "type": territory.type.value,
        "cursor": 7,
    }

    _click_notification(phone)
    expect(page).to_have_url(f"{phone.server.url}/app/#/inbox")
    expect(page.locator("#view").get_by_role("heading", name="Inbox")).to_be_visible()

    # Not JSON (or a push service test message): shown as text under the app's name.
    _deliver(phone, "Hello from the push service")
    (shown,) = _notifications(phone, 1)
    assert (shown["title"], shown["body"]) == ("fieldrep", "Hello from the push service")


def test_switch_reports_a_browser_that_cannot_subscribe(phone: Phone) -> None:
    """Without the stand-in, headless Chromium refuses to subscribe: the switch stays off and
    says why, and nothing is registered."""
    phone.context.grant_permissions(["notifications"], origin=phone.server.url)
    phone.login("rep5@demo.fieldrep")
    phone.wait_for_service_worker()
    page = phone.page
    page.get_by_role("link", name="Settings").click()
    switch = page.get_by_role("switch", name="Notifications on this phone")
    expect(switch).to_be_enabled()
    switch.click()  # it turns itself back off at once: .check() would call that a failure
    expect(page.locator("#push-status")).to_contain_text("Could not turn notifications on")
    expect(page.locator("#push-card")).to_have_attribute(
        "data-error", re.compile(r"^This browser could not subscribe.*Registration failed")
    )
    expect(switch).not_to_be_checked()
    # Chromium explains on the console why incognito profiles cannot subscribe; not the app's.
    phone.errors[:] = [
        e for e in phone.errors if "does not support the Push API in incognito" not in e
    ]
