"""Web Push against a loopback push service that decrypts and verifies like a real one."""

from __future__ import annotations

import json
import time
from datetime import date

import httpx
import pytest
from push_peer import PushPeer
from pywebpush import WebPusher

from notifications import (
    AccountHandover,
    DayPlanUpdated,
    InMemoryInbox,
    InMemoryOutbox,
    InMemoryPushSubscriptions,
    InProcessBus,
    MemoryDeduplicator,
    NotificationDispatcher,
    OutboxRelay,
    PushOutcome,
    PushSubscription,
    TerritoryChanged,
    VapidKeys,
    WebPushSender,
    build_push_payload,
)
from notifications.push_endpoint import EndpointPolicy
from tests.redis_server import free_port

SUBJECT = "mailto:ops@fieldrep.example"
LOOPBACK = EndpointPolicy(allowed_hosts=("127.0.0.1",), allow_private=True)
"""The peer runs on loopback: allowed explicitly, as the e2e server does by its settings."""


@pytest.fixture
async def peer():
    async with PushPeer() as running:
        yield running


@pytest.fixture
async def store():
    return InMemoryPushSubscriptions()


@pytest.fixture
async def sender(store):
    s = WebPushSender(
        VapidKeys.generate(SUBJECT),
        on_gone=store.remove,
        retry_base=0.02,
        retry_cap=0.05,
        endpoint_policy=LOOPBACK,
    )
    yield s
    await s.aclose()


def plan(user: str = "rep-1"):
    return DayPlanUpdated(user, date(2025, 3, 3), 7, reason="Visit added").to_event()


async def test_delivered_payload_decrypts_and_vapid_verifies(peer, sender):
    """The device's private key decrypts exactly our JSON; the JWT passes ES256/aud/exp/sub."""
    device = peer.add_device("rep-1")
    event = plan()
    result = await sender.send_event(device.subscription, event, cursor=5)
    assert result.outcome is PushOutcome.DELIVERED and result.attempts == 1
    (got,) = peer.delivered(device)
    assert got.plaintext == build_push_payload(event, cursor=5)[0]
    assert got.json()["body"] == "2025-03-03: 7 stops. Visit added"
    assert got.claims["aud"] == peer.origin
    assert got.claims["sub"] == SUBJECT
    assert time.time() < got.claims["exp"] <= time.time() + 24 * 3600
    assert got.headers["content-encoding"] == "aes128gcm"
    assert got.headers["topic"] == event.id.replace("-", "")
    assert int(got.headers["ttl"]) == 24 * 3600


async def test_peer_rejects_wrong_audience_and_wrong_key(peer):
    """The peer's checks are real: a token for another origin, or a body for another key, fail."""
    device = peer.add_device()
    other = VapidKeys.generate(SUBJECT)
    body = WebPusher(device.subscription.info()).encode(b"hi", "aes128gcm")["body"]
    headers = {"TTL": "60", "Content-Encoding": "aes128gcm"}
    async with httpx.AsyncClient() as client:
        wrong_aud = other.authorization("https://push.other.example/x")
        r = await client.post(
            device.subscription.endpoint,
            content=body,
            headers={**headers, "Authorization": wrong_aud},
        )
        assert r.status_code == 403
        stranger = peer.add_device()
        foreign = WebPusher(stranger.subscription.info()).encode(b"hi", "aes128gcm")["body"]
        good = other.authorization(device.subscription.endpoint)
        r = await client.post(
            device.subscription.endpoint,
            content=foreign,
            headers={**headers, "Authorization": good},
        )
        assert r.status_code == 400
    assert peer.delivered(device) == []


@pytest.mark.parametrize("status", [404, 410])
async def test_gone_subscription_is_removed_without_retry(peer, sender, store, status):
    device = peer.add_device("rep-1")
    keep = peer.add_device("rep-1")
    store.add("rep-1", device.subscription)
    store.add("rep-1", keep.subscription)
    peer.script(device, status)
    result = await sender.send_event(device.subscription, plan())
    assert result.outcome is PushOutcome.GONE and result.status == status
    assert result.attempts == 1
    assert store.removed == [device.subscription]
    assert await store.subscriptions_for(["rep-1"]) == {"rep-1": [keep.subscription]}


async def test_429_retry_after_is_honoured(peer, sender):
    """The sender waits the Retry-After seconds, then succeeds on the second attempt."""
    device = peer.add_device()
    peer.script(device, 429, {"Retry-After": "1"})
    result = await sender.send_event(device.subscription, plan())
    assert result.outcome is PushOutcome.DELIVERED
    assert result.attempts == 2 and result.waits == (1.0,)
    first, second = (r for r in peer.received if r.device_id == device.device_id)
    assert (first.status, second.status) == (429, 201)
    assert second.at - first.at >= 0.95  # lower bound only: it really waited


async def test_429_with_long_retry_after_is_reported_not_waited(peer, sender):
    device = peer.add_device()
    peer.script(device, 429, {"Retry-After": "3600"})
    result = await sender.send_event(device.subscription, plan())
    assert result.outcome is PushOutcome.RETRY_LATER
    assert result.retry_after == 3600.0 and result.attempts == 1
    assert peer.delivered(device) == []


async def test_5xx_is_retried_with_backoff_then_gives_up(peer, sender):
    device = peer.add_device()
    peer.script(device, 500)
    peer.script(device, 502)
    ok = await sender.send_event(device.subscription, plan())
    assert ok.outcome is PushOutcome.DELIVERED and ok.attempts == 3 and len(ok.waits) == 2
    for _ in range(4):
        peer.script(device, 500)
    failed = await sender.send_event(device.subscription, plan())
    assert failed.outcome is PushOutcome.FAILED and failed.attempts == 4 and failed.status == 500
    assert len(peer.delivered(device)) == 1


async def test_other_4xx_is_not_retried(peer, sender):
    device = peer.add_device()
    peer.script(device, 400)
    result = await sender.send_event(device.subscription, plan())
    assert result.outcome is PushOutcome.REJECTED and result.attempts == 1


async def test_unreachable_push_service_is_failed_not_raised(peer, sender):
    """Connection refused is retried like a 5xx and ends as FAILED, never as an exception."""
    keys = peer.add_device().subscription
    dead = PushSubscription(f"http://127.0.0.1:{free_port()}/push/x", keys.p256dh, keys.auth)
    result = await sender.send_event(dead, plan())
    assert result.outcome is PushOutcome.FAILED and result.status is None
    assert result.attempts == 4 and "ConnectError" in result.detail


async def test_oversized_notice_is_summarized_and_fits_one_record(peer, sender):
    """A realignment with 400 accounts and long notes arrives truncated, flagged, decryptable."""
    device = peer.add_device()
    change = TerritoryChanged(
        "rep-1",
        "t-1",
        date(2025, 3, 3),
        gained=tuple(AccountHandover(f"a{i}", f"Account {i}", "x" * 300) for i in range(400)),
    )
    result = await sender.send_event(device.subscription, change.to_event())
    assert result.outcome is PushOutcome.DELIVERED and result.truncated
    (got,) = peer.delivered(device)
    assert got.body_size <= 4096
    doc = got.json()
    assert doc["truncated"] is True and doc["data"]["gained_total"] == 400


async def test_dispatcher_pushes_each_new_notice_and_prunes_gone_devices(peer, sender, store):
    """End to end in one process: outbox -> relay -> inbox + push; 410 removes the device."""
    phone = peer.add_device("rep-1")
    old_tablet = peer.add_device("rep-1")
    other_phone = peer.add_device("rep-2")
    for d, user in ((phone, "rep-1"), (old_tablet, "rep-1"), (other_phone, "rep-2")):
        store.add(user, d.subscription)
    peer.script(old_tablet, 410)
    bus = InProcessBus()
    inbox = InMemoryInbox()
    dispatcher = NotificationDispatcher(
        inbox, bus, MemoryDeduplicator(), push=sender, push_store=store
    )
    bus.add_consumer(dispatcher.handle)
    outbox = InMemoryOutbox()
    event = DayPlanUpdated("rep-1", date(2025, 3, 3), 4).to_event(recipients=["rep-1", "rep-2"])
    outbox.add(event)
    outbox.add(event)  # the same event recorded twice (a retried transaction): one notice
    relay = OutboxRelay(outbox, bus)
    assert await relay.relay_once() == 2
    await dispatcher.drain()
    assert [json.loads(r.plaintext)["cursor"] for r in peer.delivered(phone)] == [1]
    assert [json.loads(r.plaintext)["event_id"] for r in peer.delivered(other_phone)] == [event.id]
    assert store.removed == [old_tablet.subscription]
    assert len(inbox.items("rep-1")) == 1 and len(inbox.items("rep-2")) == 1
