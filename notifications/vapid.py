"""VAPID (RFC 8292): the application server's identity towards push services.

Why cache the header: a signature per push is wasted work when thousands of pushes go to the same
push service (one ``aud`` per origin), so a signed header is reused for half its lifetime.
The token lifetime is 12 h, well inside the 24 h that RFC 8292 allows, so clock skew between us
and the push service cannot make a fresh token look too long-lived.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02

_SUBJECT = re.compile(r"^(mailto:[^@\s]+@[^@\s]+|https://\S+)$")


def b64url(data: bytes) -> str:
    """Encode without padding, as Web Push keys are exchanged."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    """Decode base64url text with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def endpoint_origin(endpoint: str) -> str:
    """Return ``scheme://host[:port]`` of a push endpoint: the JWT ``aud`` (RFC 8292 §2)."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) push endpoint: {endpoint!r}")
    return f"{parts.scheme}://{parts.netloc}"


@dataclass(slots=True)
class VapidKeys:
    """The application server's P-256 key pair and contact.

    Attributes:
        private_key: The signing key; keep it stable, since subscriptions are bound to it.
        subject: ``mailto:`` address or ``https:`` URL the push service can contact.
        token_lifetime: Seconds until a signed token expires (at most 24 h).
    """

    private_key: ec.EllipticCurvePrivateKey
    subject: str
    token_lifetime: int = 12 * 3600
    _cache: dict[str, tuple[str, float]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not _SUBJECT.match(self.subject):
            raise ValueError("VAPID subject must be a mailto: address or an https: URL")
        if not isinstance(self.private_key.curve, ec.SECP256R1):
            raise ValueError("VAPID keys must be on P-256")
        if not 0 < self.token_lifetime <= 24 * 3600:
            raise ValueError("VAPID token lifetime must be within 24 hours")

    @classmethod
    def generate(cls, subject: str) -> VapidKeys:
        """Create a new key pair (once per deployment; store :meth:`private_pem`)."""
        return cls(ec.generate_private_key(ec.SECP256R1()), subject)

    @classmethod
    def from_pem(cls, pem: bytes | str, subject: str) -> VapidKeys:
        """Load a PEM private key (what :meth:`private_pem` wrote)."""
        data = pem.encode() if isinstance(pem, str) else pem
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("VAPID key must be an EC private key")
        return cls(key, subject)

    @classmethod
    def from_raw(cls, private_b64url: str, subject: str) -> VapidKeys:
        """Load the base64url private scalar (as ``web-push generate-vapid-keys`` prints it)."""
        value = int.from_bytes(b64url_decode(private_b64url), "big")
        return cls(ec.derive_private_key(value, ec.SECP256R1()), subject)

    def private_pem(self) -> bytes:
        """Return the private key as unencrypted PKCS#8 PEM, for a secret store."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def application_server_key(self) -> str:
        """The public key as the browser's ``pushManager.subscribe`` wants it (base64url)."""
        raw = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return b64url(raw)

    def authorization(self, endpoint: str, *, now: float | None = None) -> str:
        """Return the ``Authorization: vapid t=..., k=...`` value for ``endpoint``'s origin."""
        audience = endpoint_origin(endpoint)
        current = time.time() if now is None else now
        cached = self._cache.get(audience)
        if cached is not None and cached[1] - current > self.token_lifetime / 2:
            return cached[0]
        expires = int(current) + self.token_lifetime
        claims = {"aud": audience, "exp": expires, "sub": self.subject}
        header = str(Vapid02(self.private_key).sign(claims)["Authorization"])
        self._cache[audience] = (header, float(expires))
        return header


__all__ = ["VapidKeys", "b64url", "b64url_decode", "endpoint_origin"]
