"""Is a secret key random enough to sign tokens with? A conservative estimate, checked at start-up.

Why: a token signed with HS256 lets anyone try candidate keys offline at millions per second, so a
guessable key (``secret``, ``a``, the development default, a few dictionary words) gives the
attacker every account: a probe recovered such a key from one token with an 11-word list and
forged an admin token. Production therefore refuses a key unless

1. it is at least :data:`MIN_KEY_BYTES` bytes long (UTF-8; HMAC uses exactly those bytes), and
2. its estimated entropy is at least :data:`MIN_KEY_BITS` bits.

The estimate can only refuse the obvious, never prove randomness, so it errs low:

- known weak words (``secret``, ``password``, ``changeme``, ``fieldrep`` ...) are removed first;
- Shannon entropy of the remaining characters (their own frequencies) times their number, but
  only as many characters as zlib cannot squeeze out (``abcd`` repeated counts once);
- text made only of short letter runs and separators reads as a passphrase: 13 bits per word
  (a diceware word), so it needs ten words.

``secrets.token_urlsafe(48)`` scores about 330 bits, ``secrets.token_hex(32)`` about 190.

Example:
    >>> weak_key_reason("secret") is not None
    True
    >>> import secrets
    >>> weak_key_reason(secrets.token_urlsafe(48)) is None
    True
"""

from __future__ import annotations

import base64
import binascii
import math
import re
import zlib
from collections import Counter

MIN_KEY_BYTES = 32
MIN_KEY_BITS = 128.0
#: What the error message tells an operator to run.
HOW_TO_MAKE_ONE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
#: Words people put in keys; they add (almost) nothing an attacker's list does not have.
WEAK_WORDS = (
    "fieldrep",
    "development",
    "production",
    "secret",
    "password",
    "passwd",
    "changeme",
    "change",
    "default",
    "example",
    "letmein",
    "qwerty",
    "admin",
    "token",
    "test",
)
_WEAK = re.compile("|".join(WEAK_WORDS), re.IGNORECASE)
#: A passphrase: letter runs of at most 12 (words are short; random text has long runs).
_PASSPHRASE = re.compile(r"[A-Za-z]{1,12}(?:[\s\-_.,+]+[A-Za-z]{1,12})*")
_BITS_PER_WORD = 13.0
#: Bytes zlib adds to any input (header, checksum, block framing).
_ZLIB_OVERHEAD = 8
#: The order of P-256: a VAPID private scalar lies in [1, n).
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
#: 32 random bytes score 140-160 bits by byte frequencies (lowest of 200,000 draws: 139).
_MIN_VAPID_BITS = 100.0
HOW_TO_MAKE_A_VAPID_KEY = (
    "leave FIELDREP_VAPID_PRIVATE_KEY unset (a key is generated into the data folder) or run "
    "`npx web-push generate-vapid-keys` and use its private key"
)


def _shannon_bits_per_char(text: str) -> float:
    counts = Counter(text)
    total = len(text)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def estimated_bits(key: str) -> float:
    """A low estimate of the entropy of ``key`` in bits (see the module docstring)."""
    rest = _WEAK.sub("", key)
    if not rest:
        return 0.0
    squeezed = len(zlib.compress(rest.encode(), 9)) - _ZLIB_OVERHEAD
    bits = _shannon_bits_per_char(rest) * max(0, min(len(rest), squeezed))
    if _PASSPHRASE.fullmatch(rest.strip()):
        words = len(re.findall(r"[A-Za-z]+", rest))
        bits = min(bits, _BITS_PER_WORD * words)
    return max(0.0, bits)


def weak_key_reason(key: str, *, min_bytes: int = MIN_KEY_BYTES) -> str | None:
    """Why ``key`` is too weak to sign with, or None when it passes.

    Args:
        key: The secret as configured.
        min_bytes: The shortest acceptable key in UTF-8 bytes.

    Returns:
        A sentence for the start-up error (it never contains the key), or None.
    """
    size = len(key.encode())
    if not key.strip():
        return "is empty"
    if size < min_bytes:
        return f"is {size} bytes long; at least {min_bytes} are needed"
    bits = estimated_bits(key)
    if bits < MIN_KEY_BITS:
        return (
            f"looks guessable (about {bits:.0f} bits of entropy estimated; at least "
            f"{MIN_KEY_BITS:.0f} are needed: no repeated characters, patterns or words)"
        )
    return None


def weak_vapid_key_reason(private_b64url: str) -> str | None:
    """Why a VAPID private key (base64url P-256 scalar) is unusable or guessable, or None.

    A scalar such as 1 (``AQ``) is a valid key whose signatures anyone can forge; push services
    would accept notices signed by whoever guesses it.
    """
    try:
        raw = base64.urlsafe_b64decode(private_b64url + "=" * (-len(private_b64url) % 4))
    except (binascii.Error, ValueError):
        return "is not base64url text"
    if len(raw) != 32:
        return f"decodes to {len(raw)} bytes; a P-256 private key is 32"
    if not 0 < int.from_bytes(raw, "big") < _P256_ORDER:
        return "is outside the P-256 key range"
    bits = _shannon_bits_per_char(raw.decode("latin-1")) * len(raw)
    if bits < _MIN_VAPID_BITS:
        return f"looks guessable (its bytes repeat: about {bits:.0f} bits estimated)"
    return None


__all__ = [
    "HOW_TO_MAKE_A_VAPID_KEY",
    "HOW_TO_MAKE_ONE",
    "MIN_KEY_BITS",
    "MIN_KEY_BYTES",
    "WEAK_WORDS",
    "estimated_bits",
    "weak_key_reason",
    "weak_vapid_key_reason",
]
