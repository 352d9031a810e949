"""Web Push endpoints cannot aim the server at private addresses (issue 13, item 6: SSRF).

Before: any URL was stored (loopback, the metadata address, the private network), without a
size limit or a cap per user, and the dispatcher POSTed to all of them. Now registration
applies the endpoint policy (known push services, https on 443, public addresses), checks the
keys' sizes, keeps each user's 10 newest devices, and the sender checks again on the address it
actually connects to (a name that resolves elsewhere later is still refused).
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from backend.db.models import PushSubscriptionRecord
from backend.runtime import Runtime
from backend.settings import Settings
from notifications import PushOutcome, PushSubscription, VapidKeys, WebPushSender
from notifications.guarded_http import PublicOnlyBackend
from notifications.push_endpoint import (
    KNOWN_PUSH_SERVICES,
    EndpointPolicy,
    EndpointRefusedError,
    check_endpoint,
    is_public_address,
)
from tests.conftest import Api, World

REGISTER = """mutation($e: String!, $k: String!, $a: String!) {
  registerPushSubscription(subscription: {endpoint: $e, p256dh: $k, auth: $a})
}"""
FCM = "https://fcm.googleapis.com/fcm/send/"


def _keys() -> tuple[str, str]:
    """A browser's keys: an uncompressed P-256 point and a 16-byte secret, base64url."""
    point = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    return (
        base64.urlsafe_b64encode(point).rstrip(b"=").decode(),
        base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode(),
    )


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test settings plus ``localhost`` on the allowlist: a listed name that resolves to
    loopback (from /etc/hosts), which is what a rebinding or a hostile DNS answer looks like."""
    return settings.model_copy(update={"push_allowed_hosts": [*KNOWN_PUSH_SERVICES, "localhost"]})


@pytest.fixture
async def rep(api: Api, world: World) -> Api:
    assert (await api.login("repa1@x.test", world.password)).status_code == 200
    return api


async def _stored(runtime: Runtime) -> list[str]:
    async with runtime.sessionmaker() as session:
        rows = await session.scalars(
            select(PushSubscriptionRecord.endpoint).order_by(PushSubscriptionRecord.id)
        )
        return list(rows)


def _error(body: dict[str, object]) -> dict[str, object]:
    errors = body.get("errors")
    assert isinstance(errors, list) and errors, body
    extensions: dict[str, object] = errors[0]["extensions"]
    return extensions


REFUSED_ENDPOINTS = [
    "https://127.0.0.1/push/x",
    "https://127.1.2.3/push/x",
    "https://[::1]/push/x",
    "https://[::ffff:127.0.0.1]/push/x",
    "https://10.0.0.5/push/x",
    "https://192.168.1.1/push/x",
    "https://172.16.0.1/push/x",
    "https://100.64.0.1/push/x",
    "https://169.254.169.254/latest/meta-data/",
    "https://[fe80::1]/push/x",
    "https://[fd00::1]/push/x",
    "https://0.0.0.0/push/x",
    "https://localhost/push/x",  # allowlisted here, resolves to 127.0.0.1
    "http://fcm.googleapis.com/fcm/send/x",
    "https://fcm.googleapis.com:8443/fcm/send/x",
    "https://user:pw@fcm.googleapis.com/fcm/send/x",
    "https://push.attacker.example/x",
    "https://8.8.8.8/x",  # public, but not a push service
    "file:///etc/passwd",
    FCM + "x" * 2048,
]


async def test_private_unknown_and_oversized_endpoints_are_refused(
    rep: Api, runtime: Runtime
) -> None:
    """Each answers BAD_USER_INPUT on ``subscription.endpoint`` and nothing is stored."""
    p256dh, auth = _keys()
    for endpoint in REFUSED_ENDPOINTS:
        body = await rep.gql(REGISTER, e=endpoint, k=p256dh, a=auth)
        extensions = _error(body)
        assert extensions["code"] == "BAD_USER_INPUT", (endpoint, body)
        assert extensions["field"] == "subscription.endpoint", (endpoint, body)
    assert await _stored(runtime) == []


BAD_KEYS = [
    ("k", None, "subscription.p256dh"),
    ("A" * 100_000, None, "subscription.p256dh"),
    (base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode(), None, "subscription.p256dh"),
    (None, "a", "subscription.auth"),
    (None, "not base64 !!", "subscription.auth"),
    (None, base64.urlsafe_b64encode(os.urandom(32)).decode(), "subscription.auth"),
]


async def test_keys_that_are_not_a_browsers_are_refused(rep: Api, runtime: Runtime) -> None:
    """Too short, huge, not a point on P-256, an auth secret of the wrong size or alphabet."""
    good_key, good_auth = _keys()
    for p256dh, auth, field in BAD_KEYS:
        body = await rep.gql(REGISTER, e=FCM + "k", k=p256dh or good_key, a=auth or good_auth)
        extensions = _error(body)
        assert (extensions["code"], extensions["field"]) == ("BAD_USER_INPUT", field), body
    assert await _stored(runtime) == []


async def test_a_known_push_service_is_accepted(rep: Api, runtime: Runtime) -> None:
    """The endpoints browsers really give (here no DNS answers: accepted, see push_devices)."""
    endpoints = [
        FCM + "dQw4w9WgXcQ:APA91bH",
        "https://updates.push.services.mozilla.com/wpush/v2/gAAAAABk",
        "https://web.push.apple.com/QGu1",
        "https://wns2-par02p.notify.windows.com/w/?token=BQYAAA",
    ]
    for endpoint in endpoints:
        p256dh, auth = _keys()
        body = await rep.gql(REGISTER, e=endpoint, k=p256dh, a=auth)
        assert body["data"] == {"registerPushSubscription": True}, body
    assert await _stored(runtime) == endpoints


async def test_each_user_keeps_the_ten_newest_devices(
    rep: Api, api: Api, runtime: Runtime, world: World
) -> None:
    """A new phone works at once: the oldest registration makes room, not the new one."""
    for n in range(12):
        p256dh, auth = _keys()
        body = await rep.gql(REGISTER, e=f"{FCM}device-{n}", k=p256dh, a=auth)
        assert body["data"] == {"registerPushSubscription": True}, body
    assert await _stored(runtime) == [f"{FCM}device-{n}" for n in range(2, 12)]

    # Another user's devices do not count against (or get trimmed by) this one.
    other = Api(api.client)
    assert (await other.login("repa2@x.test", world.password)).status_code == 200
    p256dh, auth = _keys()
    assert (await other.gql(REGISTER, e=f"{FCM}a2", k=p256dh, a=auth))["data"]
    assert len(await _stored(runtime)) == 11


async def test_production_refuses_the_private_hosts_switch() -> None:
    with pytest.raises(ValueError, match="FIELDREP_PUSH_ALLOW_PRIVATE_HOSTS"):
        Settings(
            environment="production",
            secret_key=base64.b64encode(os.urandom(48)).decode(),
            push_allow_private_hosts=True,
        )
    assert Settings().push_allow_private_hosts is False  # never by default


# --- send time -----------------------------------------------------------------------------


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, list[int]]]:
    """A TCP server on loopback that counts the connections it gets."""
    accepted: list[int] = []

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        writer.close()

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        yield port, accepted


async def test_the_connection_itself_refuses_a_name_that_resolves_to_loopback(
    listener: tuple[int, list[int]],
) -> None:
    """DNS rebinding: whatever the name resolved to at registration, the address connected
    to is checked at connect time, and no connection is opened."""
    port, accepted = listener
    backend = PublicOnlyBackend(EndpointPolicy(allowed_hosts=("localhost",)))
    with pytest.raises(EndpointRefusedError, match=r"resolves to 127\.0\.0\.1"):
        await backend.connect_tcp("localhost", port)
    with pytest.raises(EndpointRefusedError):
        await backend.connect_tcp("127.0.0.1", port)
    await asyncio.sleep(0.05)
    assert accepted == []
    # The development switch lets the same connection through (the e2e push service).
    permissive = PublicOnlyBackend(EndpointPolicy(allow_private=True))
    stream = await permissive.connect_tcp("localhost", port)
    await stream.aclose()
    await asyncio.sleep(0.05)
    assert accepted == [1]


async def test_sender_rejects_stored_subscriptions_it_may_not_reach(
    settings: Settings, listener: tuple[int, list[int]]
) -> None:
    """Rows stored before the fix (or by a rebinding name) are refused without a request and
    without retries; the policy comes from the deployment's settings."""
    port, accepted = listener
    p256dh, auth = _keys()
    sender = WebPushSender(
        VapidKeys.generate("mailto:ops@x.test"),
        endpoint_policy=settings.push_endpoint_policy,
        retry_base=0.01,
    )
    try:
        for endpoint in (
            f"http://127.0.0.1:{port}/push/legacy",  # what the probe registered 23 times
            "https://localhost/push/rebound",  # allowlisted name, loopback address
            "https://169.254.169.254/latest/meta-data/",
        ):
            result = await sender.send(PushSubscription(endpoint, p256dh, auth), b"{}")
            assert result.outcome is PushOutcome.REJECTED, (endpoint, result)
            assert result.attempts <= 1 and result.waits == ()
    finally:
        await sender.aclose()
    assert accepted == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("142.250.185.106", True),
        ("2a00:1450:4001:82b::200a", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.31.255.255", False),
        ("192.168.0.1", False),
        ("100.64.0.1", False),
        ("169.254.169.254", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("192.0.2.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::ffff:8.8.8.8", True),
        ("2002:7f00:0001::", False),  # 6to4 around 127.0.0.1
        ("2001:db8::1", False),
    ],
)
def test_public_address_table(address: str, public: bool) -> None:
    assert is_public_address(ipaddress.ip_address(address)) is public


def test_allowlist_patterns() -> None:
    policy = EndpointPolicy()
    assert check_endpoint(FCM + "x", policy).host == "fcm.googleapis.com"
    assert check_endpoint("https://FCM.googleapis.com./x", policy).host == "fcm.googleapis.com"
    assert check_endpoint("https://db5p.notify.windows.com/w/", policy).port == 443
    for bad in ("https://notify.windows.com.evil.example/", "https://evilfcm.googleapis.com/"):
        with pytest.raises(EndpointRefusedError, match="not a known push service"):
            check_endpoint(bad, policy)
    anywhere = EndpointPolicy(allowed_hosts=("*",))
    assert check_endpoint("https://push.example.org/x", anywhere).host == "push.example.org"
    with pytest.raises(EndpointRefusedError, match="not a public address"):
        check_endpoint("https://10.0.0.1/x", anywhere)
