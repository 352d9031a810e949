"""A push service on loopback that checks what a real one checks (RFC 8030/8291/8292).

It decrypts each aes128gcm body with the device's private key and auth secret, verifies the VAPID
JWT (ES256 against the ``k=`` key, ``aud`` equal to its own origin, ``exp`` within 24 h, ``sub``
``mailto:``/``https:``), enforces the 4096-byte body limit, and can be scripted to answer
404/410/429/500 to exercise the sender's policies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import socket
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import http_ece
import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from notifications.vapid import b64url, b64url_decode
from notifications.webpush import PushSubscription

_AUTH = re.compile(r"^vapid\s+t=(?P<t>[^,\s]+)\s*,\s*k=(?P<k>[A-Za-z0-9_-]+)$")


@dataclass
class Device:
    """A browser's side of a subscription: real P-256 keys and a 16-byte auth secret."""

    device_id: str
    private_key: ec.EllipticCurvePrivateKey
    auth_secret: bytes
    subscription: PushSubscription


@dataclass
class Received:
    """One request as the push service saw it."""

    device_id: str
    at: float
    status: int
    headers: dict[str, str]
    body_size: int
    plaintext: bytes | None = None
    claims: dict[str, Any] | None = None
    error: str | None = None

    def json(self) -> Any:
        assert self.plaintext is not None
        return json.loads(self.plaintext)


@dataclass
class PushPeer:
    """Run with ``async with PushPeer() as peer``; ``peer.script(device, 429, ...)`` queues answers."""

    host: str = "127.0.0.1"
    devices: dict[str, Device] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    scripted: dict[str, deque[tuple[int, dict[str, str]]]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    port: int = 0

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_device(self, user_id: str | None = None) -> Device:
        device_id = uuid.uuid4().hex
        key = ec.generate_private_key(ec.SECP256R1())
        auth = os.urandom(16)
        public = key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        sub = PushSubscription(
            f"{self.origin}/push/{device_id}", b64url(public), b64url(auth), user_id
        )
        device = Device(device_id, key, auth, sub)
        self.devices[device_id] = device
        return device

    def script(self, device: Device, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer the next request for ``device`` with ``status`` (after verifying it)."""
        self.scripted[device.device_id].append((status, headers or {}))

    def delivered(self, device: Device) -> list[Received]:
        return [r for r in self.received if r.device_id == device.device_id and r.status == 201]

    def verify_vapid(self, authorization: str | None) -> dict[str, Any]:
        if not authorization:
            raise PermissionError("missing Authorization")
        match = _AUTH.match(authorization.strip())
        if match is None:
            raise PermissionError(f"not a vapid Authorization: {authorization[:40]}")
        raw = b64url_decode(match["k"])
        public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
        claims: dict[str, Any] = jwt.decode(
            match["t"],
            public,
            algorithms=["ES256"],
            audience=self.origin,
            options={"require": ["aud", "exp", "sub"]},
        )
        if claims["exp"] > time.time() + 24 * 3600:
            raise PermissionError("exp more than 24 h ahead")
        if not re.match(r"^(mailto:|https:)", str(claims["sub"])):
            raise PermissionError("sub must be mailto: or https:")
        return claims

    async def _push(self, request: Request) -> Response:
        device_id = request.path_params["device_id"]
        body = await request.body()
        record = Received(device_id, time.monotonic(), 0, dict(request.headers), len(body))
        self.received.append(record)
        device = self.devices.get(device_id)
        status = 201
        try:
            if device is None:
                status = 404
                raise LookupError("unknown device")
            record.claims = self.verify_vapid(request.headers.get("authorization"))
            if request.headers.get("content-encoding") != "aes128gcm":
                raise ValueError("Content-Encoding must be aes128gcm")
            int(request.headers["ttl"])
            if len(body) > 4096:
                status = 413
                raise ValueError(f"body of {len(body)} bytes exceeds 4096")
            record.plaintext = http_ece.decrypt(
                body,
                private_key=device.private_key,
                auth_secret=device.auth_secret,
                version="aes128gcm",
            )
        except (PermissionError, jwt.PyJWTError) as exc:
            status, record.error = 403, repr(exc)
        except (LookupError, ValueError, KeyError, Exception) as exc:
            status = status if status != 201 else 400
            record.error = repr(exc)
        headers: dict[str, str] = {}
        queue = self.scripted.get(device_id)
        if status == 201 and queue:
            status, headers = queue.popleft()
        record.status = status
        if status == 201:
            headers["Location"] = f"{self.origin}/message/{uuid.uuid4().hex}"
        return Response(record.error or "", status_code=status, headers=headers)

    async def __aenter__(self) -> PushPeer:
        app = Starlette(routes=[Route("/push/{device_id}", self._push, methods=["POST"])])
        self._sock = socket.socket()
        self._sock.bind((self.host, 0))
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[self._sock]))
        while not self._server.started:  # noqa: ASYNC110 - uvicorn exposes a flag only
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(self._task, timeout=5)
        self._sock.close()
