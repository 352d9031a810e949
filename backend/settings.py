"""Settings from the environment (``FIELDREP_*``), injected everywhere instead of read globally.

No database URL means the embedded default: a SQLite file in the user's data folder and the
in-process event bus, so ``fieldrep demo`` runs on a laptop with nothing else installed.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from backend.auth.key_strength import (
    HOW_TO_MAKE_A_VAPID_KEY,
    HOW_TO_MAKE_ONE,
    weak_key_reason,
    weak_vapid_key_reason,
)
from notifications.push_endpoint import KNOWN_PUSH_SERVICES, EndpointPolicy

DEV_SECRET = "fieldrep-development-secret-change-me"  # noqa: S105 - refused outside development


def default_data_dir() -> Path:
    """The per-user folder that holds the embedded database and the routing cache."""
    return Path(platformdirs.user_data_dir("fieldrep", appauthor=False))


class Settings(BaseSettings):
    """Every knob of a fieldrep deployment; see README 'Configuration' for the reasons."""

    # hide_input_in_errors: a refused setting must not print the secret (or URL password) it had.
    model_config = SettingsConfigDict(
        env_prefix="FIELDREP_", env_file=None, extra="ignore", hide_input_in_errors=True
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    redis_url: str | None = None
    secret_key: str = DEV_SECRET
    # Access tokens are short-lived; the phone keeps its session with a refresh token
    # (rotated on each use, revocable: backend/auth/refresh.py, SECURITY.md "Tokens").
    token_ttl_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_ttl_days: int = Field(default=30, ge=1, le=365)
    region_path: Path | None = None
    routing_cache_dir: Path | None = None
    max_snap_distance_m: float = 500.0
    timezone: str = "Europe/Vaduz"
    graphql_max_depth: int = 10
    graphql_max_aliases: int = 15
    graphql_max_tokens: int = 2000
    graphql_max_page_size: int = 100
    # Linear document limits (backend/api/document_limits.py, SECURITY.md "Limits").
    graphql_max_introspection_depth: int = Field(default=6, ge=1)
    graphql_max_cost: int = Field(default=5_000, ge=1)
    # WebSocket subscriptions (backend/api/live_socket.py).
    ws_max_message_bytes: int = Field(default=65_536, ge=1024)
    ws_max_subscriptions: int = Field(default=10, ge=1)
    ws_recheck_seconds: float = Field(default=30.0, gt=0, le=3600)
    cors_origins: list[str] = Field(default_factory=list)
    query_cost_per_minute: int = 20_000
    login_attempts_per_5min: int = 10
    # Per client address (SECURITY.md "Login and request limits"); 0 switches a limit off.
    login_attempts_per_address_per_5min: int = Field(default=20, ge=0)
    address_requests_per_minute: int = Field(default=1200, ge=0)
    address_request_burst: int = Field(default=600, ge=1)
    rate_limit_exempt: Annotated[list[str], NoDecode] = Field(default_factory=list)
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    password_hash_concurrency: int = Field(default=0, ge=0)  # 0: one per CPU core
    password_hash_queue: int = Field(default=16, ge=0)
    max_body_bytes: int = 1_000_000
    run_relay_in_process: bool = True
    relay_poll_seconds: float = Field(default=0.5, gt=0, le=3600)
    delivery_batch_size: int = Field(default=250, ge=1, le=5000)
    web_push: bool = True
    vapid_private_key: str | None = None
    vapid_subject: str = "mailto:ops@fieldrep.invalid"
    # Web Push endpoints (notifications/push_endpoint.py, SECURITY.md "Web Push endpoints").
    push_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: list(KNOWN_PUSH_SERVICES)
    )
    push_allow_private_hosts: bool = False  # loopback push service in tests; never production
    push_max_devices_per_user: int = Field(default=10, ge=1, le=100)

    @field_validator("rate_limit_exempt", "trusted_proxies", "push_allowed_hosts", mode="before")
    @classmethod
    def _text_list(cls, value: object) -> object:
        """Comma-separated entries (``10.0.0.0/8, ::1``, ``fcm.googleapis.com``) or a JSON list.

        Operators write the first form by hand; orchestration tools often emit the second.
        """
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("rate_limit_exempt", "trusted_proxies", mode="after")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
        return value

    @model_validator(mode="after")
    def _private_push_hosts_only_outside_production(self) -> Settings:
        """A loopback push service is a test fixture; in production it is an SSRF hole."""
        if self.push_allow_private_hosts and self.environment == "production":
            msg = "FIELDREP_PUSH_ALLOW_PRIVATE_HOSTS is for development and tests, not production"
            raise ValueError(msg)
        return self

    @property
    def push_endpoint_policy(self) -> EndpointPolicy:
        """The Web Push endpoint rules these settings describe."""
        return EndpointPolicy(
            allowed_hosts=tuple(self.push_allowed_hosts),
            allow_private=self.push_allow_private_hosts,
        )

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        """No empty key anywhere; in production no guessable one (SECURITY.md 'Secrets')."""
        if not self.secret_key.strip():
            msg = f"FIELDREP_SECRET_KEY is empty; make one with: {HOW_TO_MAKE_ONE}"
            raise ValueError(msg)
        if self.environment != "production":
            return self
        reason = (
            "is the development default"
            if self.secret_key == DEV_SECRET
            else weak_key_reason(self.secret_key)
        )
        if reason:
            msg = f"FIELDREP_SECRET_KEY {reason}; make one with: {HOW_TO_MAKE_ONE}"
            raise ValueError(msg)
        if self.vapid_private_key is not None:
            reason = weak_vapid_key_reason(self.vapid_private_key)
            if reason:
                msg = f"FIELDREP_VAPID_PRIVATE_KEY {reason}; {HOW_TO_MAKE_A_VAPID_KEY}"
                raise ValueError(msg)
        return self

    @cached_property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file under ``data_dir``."""
        if self.database_url:
            return normalise_database_url(self.database_url)
        return f"sqlite+aiosqlite:///{self.data_dir / 'fieldrep.sqlite3'}"

    @property
    def effective_routing_cache_dir(self) -> Path:
        """Where compiled road networks are cached (keyed by extract hash inside)."""
        return self.routing_cache_dir or self.data_dir / "routing-cache"

    @property
    def is_production(self) -> bool:
        """Production hides GraphiQL and introspection and masks errors."""
        return self.environment == "production"


def normalise_database_url(url: str) -> str:
    """Accept the URLs people paste (``postgres://``, ``postgresql://``) and pick async drivers."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    if url.startswith("sqlite:///"):
        return "sqlite+aiosqlite:///" + url[len("sqlite:///") :]
    return url


def bundled_region_path() -> Path:
    """The Liechtenstein extract shipped with the package (ODbL, © OpenStreetMap contributors)."""
    import routing

    return Path(routing.__file__).resolve().parent / "data" / "liechtenstein.osm.pbf"
