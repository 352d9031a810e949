"""Secrets: production refuses guessable signing and VAPID keys at start-up, and says how to
make one; an empty key is refused everywhere (it used to start and answer every login 500)."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from backend.settings import DEV_SECRET, Settings

ROOT = Path(__file__).resolve().parents[2]
HOW_TO_MAKE_ONE = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'

GUESSABLE = {
    "one letter": "a",
    "a word": "secret",
    "empty": "",
    "blank": "   ",
    "one character 64 times": "a" * 64,
    "the development default": DEV_SECRET,
    "a word repeated": "secret" * 8,
    "a short pattern repeated": "0123456789abcdef" * 4,
    "a few dictionary words": "correct horse battery staple is my key",
    "weak words padded": "supersecretpassword-changeme-fieldrep-2026!",
    "16 random bytes in hex (128 bits, but only 32 characters of 16 symbols)": "9f" * 16,
}


def _production(**values: object) -> Settings:
    return Settings(environment="production", **values)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", list(GUESSABLE.values()), ids=list(GUESSABLE))
def test_production_refuses_guessable_secret_keys(key: str) -> None:
    """Each of these started a production server before; now construction fails and the error
    tells the operator how to make a good key, without echoing the bad one."""
    with pytest.raises(ValidationError) as refused:
        _production(secret_key=key)
    message = str(refused.value)
    assert "FIELDREP_SECRET_KEY" in message
    assert HOW_TO_MAKE_ONE in message
    if len(key) > 8:
        assert key not in message


@pytest.mark.parametrize(
    "key",
    [secrets.token_urlsafe(48), secrets.token_urlsafe(32), secrets.token_hex(32)],
    ids=["token_urlsafe(48)", "token_urlsafe(32)", "token_hex(32)"],
)
def test_production_accepts_random_keys(key: str) -> None:
    assert _production(secret_key=key).secret_key == key


def test_random_keys_clear_the_bar_with_room_to_spare() -> None:
    """The estimate errs low but never refuses what the documented command prints."""
    from backend.auth.key_strength import estimated_bits

    lowest = min(estimated_bits(secrets.token_urlsafe(48)) for _ in range(2000))
    assert lowest > 250


@pytest.mark.parametrize("environment", ["development", "test"])
def test_an_empty_key_is_refused_in_every_environment(environment: str) -> None:
    with pytest.raises(ValidationError, match="FIELDREP_SECRET_KEY is empty"):
        Settings(environment=environment, secret_key="")  # type: ignore[arg-type]


def test_development_keeps_its_default_key() -> None:
    assert Settings(environment="development").secret_key == DEV_SECRET


def _raw_scalar(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "vapid",
    ["AQ", _raw_scalar(1), _raw_scalar(2**255 + 1), "not base64 !!", _raw_scalar(0)],
    ids=["scalar 1, short", "scalar 1", "two bits set", "not base64", "zero"],
)
def test_production_refuses_guessable_vapid_keys(vapid: str) -> None:
    """`AQ` (the scalar 1) is a valid P-256 key whose push signatures anyone can forge."""
    with pytest.raises(ValidationError, match="FIELDREP_VAPID_PRIVATE_KEY"):
        _production(secret_key=secrets.token_urlsafe(48), vapid_private_key=vapid)


def test_production_accepts_a_generated_vapid_key() -> None:
    from notifications.vapid import VapidKeys

    key = VapidKeys.generate("mailto:ops@example.org").private_key.private_numbers()
    raw = _raw_scalar(key.private_value)
    settings = _production(secret_key=secrets.token_urlsafe(48), vapid_private_key=raw)
    assert VapidKeys.from_raw(settings.vapid_private_key or "", "mailto:ops@example.org")


def test_serve_refuses_to_start_with_a_weak_key_and_says_how_to_make_one(tmp_path: Path) -> None:
    """The operator's view: `fieldrep serve` in production with FIELDREP_SECRET_KEY=secret exits
    before binding a port, with the command that makes a good key."""
    env = {
        **os.environ,
        "FIELDREP_ENVIRONMENT": "production",
        "FIELDREP_SECRET_KEY": "secret",
        "FIELDREP_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "backend.cli.main", "serve", "--port", "0"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert not (tmp_path / "data").exists()  # refused before touching the database
    assert "FIELDREP_SECRET_KEY is 6 bytes long" in done.stderr
    assert HOW_TO_MAKE_ONE in done.stderr
