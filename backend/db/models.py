"""SQLAlchemy 2 models of the fieldrep domain, one set for SQLite and PostGIS.

Points are stored twice on purpose: ``lat``/``lon`` floats for the solvers (which want plain
numbers) and a geometry column for spatial SQL (GiST-indexed on PostGIS). The two are written
together by the repositories and never disagree.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, time
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from backend.db.geometry import GeoPoint, GeoPolygon, LatLon
from backend.db.timestamps import UTCDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: Table option for tables whose ids reach clients (tokens, GraphQL ids, URLs): on SQLite an
#: ``INTEGER PRIMARY KEY`` without AUTOINCREMENT hands a deleted row's id to the next insert, so
#: an old token or link would name someone else. PostgreSQL sequences never go back anyway.
NEVER_REUSE_IDS: dict[str, Any] = {"sqlite_autoincrement": True}


def new_uuid() -> str:
    """Opaque ids for events and client-visible records that must not be guessable."""
    return str(uuid.uuid4())


class Base(DeclarativeBase):
    """Declarative base with a stable constraint naming scheme (Alembic needs names)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Role(enum.StrEnum):
    """What a user may see: a rep their territory, a manager their team, an admin everything."""

    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"


class AlignmentState(enum.StrEnum):
    """Life cycle of an alignment version."""

    DRAFT = "draft"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    ARCHIVED = "archived"


class Team(Base):
    """A sales team: one manager (or more), several reps, a book of accounts."""

    __tablename__ = "teams"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Vaduz")
    priority_weights: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    reps: Mapped[list[Rep]] = relationship(back_populates="team")


class User(Base):
    """A person who logs in. Reps also have a :class:`Rep` profile."""

    __tablename__ = "users"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(Enum(Role, name="role", native_enum=False, length=16))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # In every token; bumped by a password change or "log out everywhere", which voids them all.
    token_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    rep: Mapped[Rep | None] = relationship(back_populates="user", uselist=False)


class Rep(Base):
    """A field rep's working profile: where the day starts and ends, when, and what they can do."""

    __tablename__ = "reps"
    __table_args__ = NEVER_REUSE_IDS
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    home_lat: Mapped[float | None] = mapped_column(Float)
    home_lon: Mapped[float | None] = mapped_column(Float)
    home: Mapped[LatLon | None] = mapped_column(GeoPoint())
    work_start: Mapped[time] = mapped_column(Time, default=time(8, 0))
    work_end: Mapped[time] = mapped_column(Time, default=time(17, 0))
    working_days: Mapped[str] = mapped_column(String(32), default="Mo,Tu,We,Th,Fr")
    skills: Mapped[list[Any]] = mapped_column(JSON, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    user: Mapped[User] = relationship(back_populates="rep")
    team: Mapped[Team] = relationship(back_populates="reps")


class Account(Base):
    """A customer or prospect location that reps visit, imported from the CRM."""

    __tablename__ = "accounts"
    __table_args__ = (
        UniqueConstraint("external_id", name="uq_accounts_external_id"),
        NEVER_REUSE_IDS,
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100))
    team_id: Mapped[int | None] = mapped_column(
        ForeignKey("teams.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(300))
    address: Mapped[str | None] = mapped_column(String(500))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    location: Mapped[LatLon] = mapped_column(GeoPoint())
    segment: Mapped[str | None] = mapped_column(String(100))
    tier: Mapped[str | None] = mapped_column(String(20))
    potential: Mapped[float] = mapped_column(Float, default=0.0)
    visit_cadence_days: Mapped[int] = mapped_column(Integer, default=30)
    visit_duration_min: Mapped[int] = mapped_column(Integer, default=30)
    opening_hours: Mapped[str | None] = mapped_column(Text)
    engagement: Mapped[float] = mapped_column(Float, default=0.0)
    open_opportunities: Mapped[int] = mapped_column(Integer, default=0)
    last_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )


class Alignment(Base):
    """A version of 'which account belongs to which territory and who owns it'."""

    __tablename__ = "alignments"
    __table_args__ = (
        # At most one active version per team, enforced by the database (both stores): two
        # concurrent commits cannot both win, the loser's statement fails (CONFLICT).
        Index(
            "uq_alignments_one_active_per_team",
            "team_id",
            unique=True,
            sqlite_where=text("state = 'ACTIVE'"),
            postgresql_where=text("state = 'ACTIVE'"),
        ),
        NEVER_REUSE_IDS,
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    state: Mapped[AlignmentState] = mapped_column(
        Enum(AlignmentState, name="alignment_state", native_enum=False, length=16), index=True
    )
    effective_date: Mapped[date | None] = mapped_column(Date)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("alignments.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    kpis: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())

    territories: Mapped[list[Territory]] = relationship(
        back_populates="alignment", cascade="all, delete-orphan"
    )


class Territory(Base):
    """One rep's patch inside one alignment version."""

    __tablename__ = "territories"
    __table_args__ = (
        UniqueConstraint("alignment_id", "rep_id", name="uq_territories_alignment_rep"),
        NEVER_REUSE_IDS,
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    alignment_id: Mapped[int] = mapped_column(
        ForeignKey("alignments.id", ondelete="CASCADE"), index=True
    )
    rep_id: Mapped[int | None] = mapped_column(ForeignKey("reps.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    outline: Mapped[str | None] = mapped_column(GeoPolygon())

    alignment: Mapped[Alignment] = relationship(back_populates="territories")


class TerritoryAssignment(Base):
    """Account -> territory inside one alignment; the unit that realignment moves."""

    __tablename__ = "territory_assignments"
    __table_args__ = (
        UniqueConstraint("alignment_id", "account_id", name="uq_assignments_alignment_account"),
        Index("ix_assignments_territory", "territory_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    alignment_id: Mapped[int] = mapped_column(ForeignKey("alignments.id", ondelete="CASCADE"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    territory_id: Mapped[int] = mapped_column(ForeignKey("territories.id", ondelete="CASCADE"))
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    handover_note: Mapped[str | None] = mapped_column(Text)


class Visit(Base):
    """A check-in (and its check-out) at an account; ``client_id`` makes offline resends safe."""

    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("client_id", name="uq_visits_client_id"),
        Index("ix_visits_account_check_in", "account_id", "check_in_at"),
        Index("ix_visits_rep_check_in", "rep_id", "check_in_at"),
        NEVER_REUSE_IDS,
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[int] = mapped_column(
        ForeignKey("accounts.id", ondelete="CASCADE"), index=True
    )
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id", ondelete="CASCADE"), index=True)
    check_in_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    check_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    distance_from_account_m: Mapped[float | None] = mapped_column(Float)
    flagged_far: Mapped[bool] = mapped_column(Boolean, default=False)
    notes: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(50))
    # The check-out is a second offline-safe message with its own client id.
    check_out_client_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    check_out_lat: Mapped[float | None] = mapped_column(Float)
    check_out_lon: Mapped[float | None] = mapped_column(Float)
    check_out_notes: Mapped[str | None] = mapped_column(Text)


class DayPlanRecord(Base):
    """The stored day plan of a rep for one date (JSON of the solver's answer)."""

    __tablename__ = "day_plans"
    __table_args__ = (UniqueConstraint("rep_id", "plan_date", name="uq_day_plans_rep_date"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id", ondelete="CASCADE"))
    plan_date: Mapped[date] = mapped_column(Date)
    version: Mapped[int] = mapped_column(Integer, default=1)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )


class Notification(Base):
    """A user's durable inbox entry.

    The cursor is ``seq``, dense per user (1, 2, 3, ...) and unique with the user: a writer that
    loses the race for a number retries with the next one, so a reader never sees a later
    number before an earlier one has committed, and a gap means "missed", never "not yet".
    """

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("user_id", "event_id", name="uq_notifications_user_event"),
        UniqueConstraint("user_id", "seq", name="uq_notifications_user_seq"),
        Index("ix_notifications_user_id_id", "user_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OutboxEvent(Base):
    """An event written in the same transaction as the change it describes; the relay publishes."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_unpublished", "published_at", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True, default=new_uuid)
    type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class PushSubscriptionRecord(Base):
    """A device's Web Push subscription (endpoint + keys) for one user."""

    __tablename__ = "push_subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    endpoint: Mapped[str] = mapped_column(Text, unique=True)
    p256dh: Mapped[str] = mapped_column(String(200))
    auth: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class Region(Base):
    """An imported OSM extract the routing engine serves (one is the default)."""

    __tablename__ = "regions"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    path: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    node_count: Mapped[int] = mapped_column(Integer)
    min_lat: Mapped[float] = mapped_column(Float)
    min_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())


class Job(Base):
    """Long work (territory design, imports) with progress the API can show."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_uuid)
    kind: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(Text)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), server_default=func.now(), onupdate=func.now()
    )


class Breadcrumb(Base):
    """A GPS position the app recorded while on the road; measures actual drive time.

    One position per rep and instant: a resent batch hits the unique key and is ignored.
    """

    __tablename__ = "breadcrumbs"
    __table_args__ = (
        UniqueConstraint("rep_id", "recorded_at", name="uq_breadcrumbs_rep_recorded_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    rep_id: Mapped[int] = mapped_column(ForeignKey("reps.id", ondelete="CASCADE"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)


class RefreshToken(Base):
    """One refresh token of a device's login, stored as a SHA-256 digest (never the token).

    Every login starts a family; each refresh marks its token used and issues the next one in
    the family. A used token presented again means it was copied: the whole family is revoked.
    """

    __tablename__ = "refresh_tokens"
    __table_args__ = (Index("ix_refresh_tokens_family", "family_id"), NEVER_REUSE_IDS)
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    family_id: Mapped[str] = mapped_column(String(36))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# GiST indexes exist only on PostGIS; the migration creates them there (see 0001).
SPATIAL_INDEXES = (("accounts", "location"), ("reps", "home"), ("territories", "outline"))
