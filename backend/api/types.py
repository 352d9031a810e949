"""Strawberry object types: thin views over ORM rows, built by ``from_row`` constructors.

Nested fields that would need another query resolve through the context's session with the
viewer's visibility clause, never by trusting the parent.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import strawberry

from backend.auth import policy
from backend.db import models


@strawberry.enum(description="What a user may see and do.")
class Role(enum.Enum):
    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"


@strawberry.enum(description="Life cycle of an alignment version.")
class AlignmentState(enum.Enum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    ACTIVE = "active"
    ARCHIVED = "archived"


@strawberry.type(description="A WGS84 position.")
class GeoPoint:
    lat: float
    lon: float


@strawberry.type(description="A person who logs in.")
class User:
    id: strawberry.ID
    email: str
    full_name: str
    role: Role
    team_id: strawberry.ID | None
    rep_id: strawberry.ID | None

    @classmethod
    def from_row(cls, user: models.User, rep_id: int | None) -> User:
        """View of a user row."""
        return cls(
            id=strawberry.ID(str(user.id)),
            email=user.email,
            full_name=user.full_name,
            role=Role(user.role.value),
            team_id=strawberry.ID(str(user.team_id)) if user.team_id is not None else None,
            rep_id=strawberry.ID(str(rep_id)) if rep_id is not None else None,
        )


@strawberry.type(description="A field rep's working profile.")
class Rep:
    id: strawberry.ID
    user_id: strawberry.ID
    team_id: strawberry.ID
    full_name: str
    email: str
    home: GeoPoint | None
    work_start: str
    work_end: str
    working_days: list[str]
    skills: list[str]
    active: bool

    @classmethod
    def from_row(cls, rep: models.Rep, user: models.User) -> Rep:
        """View of a rep row joined with its user."""
        home = (
            GeoPoint(lat=rep.home_lat, lon=rep.home_lon)
            if rep.home_lat is not None and rep.home_lon is not None
            else None
        )
        return cls(
            id=strawberry.ID(str(rep.id)),
            user_id=strawberry.ID(str(rep.user_id)),
            team_id=strawberry.ID(str(rep.team_id)),
            full_name=user.full_name,
            email=user.email,
            home=home,
            work_start=rep.work_start.strftime("%H:%M"),
            work_end=rep.work_end.strftime("%H:%M"),
            working_days=[d for d in rep.working_days.split(",") if d],
            skills=[str(s) for s in rep.skills or []],
            active=rep.active,
        )


@strawberry.type(description="A sales team.")
class Team:
    id: strawberry.ID
    name: str
    timezone: str

    @classmethod
    def from_row(cls, team: models.Team) -> Team:
        """View of a team row."""
        return cls(id=strawberry.ID(str(team.id)), name=team.name, timezone=team.timezone)


@strawberry.type(description="A customer or prospect location that reps visit.")
class Account:
    id: strawberry.ID
    external_id: str
    team_id: strawberry.ID | None
    name: str
    address: str | None
    location: GeoPoint
    segment: str | None
    tier: str | None
    potential: float
    visit_cadence_days: int
    visit_duration_min: int
    opening_hours: str | None
    engagement: float
    open_opportunities: int
    last_visit_at: dt.datetime | None

    @classmethod
    def from_row(cls, account: models.Account) -> Account:
        """View of an account row."""
        return cls(**account_fields(account))


def account_fields(account: Any) -> dict[str, Any]:
    """The :class:`Account` fields of anything with an account row's attributes (an ORM row,
    or the plain summary the account list reads), for views that add fields of their own."""
    return {
        "id": strawberry.ID(str(account.id)),
        "external_id": account.external_id,
        "team_id": strawberry.ID(str(account.team_id)) if account.team_id is not None else None,
        "name": account.name,
        "address": account.address,
        "location": GeoPoint(lat=account.lat, lon=account.lon),
        "segment": account.segment,
        "tier": account.tier,
        "potential": account.potential,
        "visit_cadence_days": account.visit_cadence_days,
        "visit_duration_min": account.visit_duration_min,
        "opening_hours": account.opening_hours,
        "engagement": account.engagement,
        "open_opportunities": account.open_opportunities,
        "last_visit_at": account.last_visit_at,
    }


@strawberry.type(description="An alignment version's header.")
class Alignment:
    id: strawberry.ID
    team_id: strawberry.ID
    name: str
    state: AlignmentState
    effective_date: dt.date | None
    created_at: dt.datetime | None
    stored_kpis: strawberry.Private[dict[str, Any] | None]

    @strawberry.field
    def kpis(self, info: strawberry.Info) -> strawberry.scalars.JSON | None:
        """The KPIs the viewer may read: all for managers, a rep's own territory for reps."""
        viewer = getattr(info.context, "viewer", None)
        if viewer is None:
            return None
        shown: Any = policy.alignment_kpis_visible_to(viewer, self.stored_kpis)
        return shown  # type: ignore[no-any-return]

    @classmethod
    def from_row(cls, alignment: models.Alignment) -> Alignment:
        """View of an alignment row."""
        return cls(
            id=strawberry.ID(str(alignment.id)),
            team_id=strawberry.ID(str(alignment.team_id)),
            name=alignment.name,
            state=AlignmentState(alignment.state.value),
            effective_date=alignment.effective_date,
            created_at=alignment.created_at,
            stored_kpis=dict(alignment.kpis) if alignment.kpis is not None else None,
        )


@strawberry.type(description="One rep's territory inside an alignment.")
class Territory:
    id: strawberry.ID
    name: str
    rep_id: strawberry.ID | None
    alignment: Alignment
    account_count: int
    outline_wkt: str | None

    @classmethod
    def from_row(
        cls, territory: models.Territory, alignment: models.Alignment, account_count: int
    ) -> Territory:
        """View of a territory row with its alignment header and size."""
        return cls(
            id=strawberry.ID(str(territory.id)),
            name=territory.name,
            rep_id=strawberry.ID(str(territory.rep_id)) if territory.rep_id is not None else None,
            alignment=Alignment.from_row(alignment),
            account_count=account_count,
            outline_wkt=territory.outline,
        )


@strawberry.type(description="Relay page info.")
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class AccountEdge:
    cursor: str
    node: Account


@strawberry.type(description="A page of accounts.")
class AccountConnection:
    edges: list[AccountEdge]
    page_info: PageInfo
    total_count: int
