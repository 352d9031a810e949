"""Settings from the environment (``FIELDREP_*``), injected everywhere instead of read globally.

No database URL means the embedded default: a SQLite file in the user's data folder and the
in-process event bus, so ``fieldrep demo`` runs on a laptop with nothing else installed.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from notifications.push_endpoint import KNOWN_PUSH_SERVICES, EndpointPolicy

DEV_SECRET = "fieldrep-development-secret-change-me"  # noqa: S105 - refused outside development


def default_data_dir() -> Path:
    """The per-user folder that holds the embedded database and the routing cache."""
    return Path(platformdirs.user_data_dir("fieldrep", appauthor=False))


class Settings(BaseSettings):
    """Every knob of a fieldrep deployment; see README 'Configuration' for the reasons."""

    model_config = SettingsConfigDict(env_prefix="FIELDREP_", env_file=None, extra="ignore")

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

    @field_validator("push_allowed_hosts", mode="before")
    @classmethod
    def _host_list(cls, value: object) -> object:
        """Comma-separated host names (``fcm.googleapis.com, *.notify.windows.com``) or JSON."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
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
    def _refuse_default_secret_in_production(self) -> Settings:
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            msg = "FIELDREP_SECRET_KEY must be set to a long random value in production"
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
