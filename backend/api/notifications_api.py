"""The inbox, live notifications over WebSocket, Web Push devices, and acknowledgements.

Every notice is stored first (durable inbox, cursor = row id), then announced to live
subscriptions and pushed to devices; a phone that was offline reads what it missed with
``notifications(after: cursor)`` or by resubscribing from its last cursor.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncGenerator
from typing import Any, cast

import strawberry
from sqlalchemy import and_, delete, func, select, update
from strawberry.types import Info

from backend.api.context import Context
from backend.api.errors import ErrorCode, api_error, bad_input, not_found
from backend.api.queries import parse_id
from backend.api.visits_api import to_graphql_error
from backend.auth import policy
from backend.db import models
from backend.messaging.stores import _title_body
from backend.services.errors import Rejected
from backend.services.push_devices import register_device
from notifications.push_endpoint import MAX_ENDPOINT_LENGTH

TERRITORY_CHANGED = "territory.changed.v1"
MAX_PAGE = 100


@strawberry.type(description="A notice in the caller's inbox; its id is its cursor (per user).")
class Notice:
    id: strawberry.ID
    cursor: int
    type: str
    title: str
    body: str
    payload: strawberry.scalars.JSON
    created_at: dt.datetime | None
    read_at: dt.datetime | None
    acknowledged_at: dt.datetime | None

    @classmethod
    def from_row(cls, row: models.Notification) -> Notice:
        """View of a stored notification."""
        payload: Any = row.payload.get("payload", {})
        return cls(
            id=strawberry.ID(str(row.seq)),
            cursor=row.seq,
            type=row.type,
            title=row.title,
            body=row.body,
            payload=payload,
            created_at=row.created_at,
            read_at=row.read_at,
            acknowledged_at=row.acknowledged_at,
        )


@strawberry.type(description="A page of the inbox, oldest first after the cursor.")
class NoticePage:
    items: list[Notice]
    end_cursor: int
    has_more: bool
    unread: int


@strawberry.type(description="Who has acknowledged a territory change.")
class Acknowledgement:
    rep_id: strawberry.ID
    user_id: strawberry.ID
    full_name: str
    notified_at: dt.datetime | None
    acknowledged_at: dt.datetime | None


@strawberry.input(description="A browser PushSubscription (endpoint and keys).")
class PushSubscriptionInput:
    endpoint: str
    p256dh: str
    auth: str


@strawberry.type
class NotificationsQuery:
    @strawberry.field(description="The caller's notices after a cursor (0 = from the start).")
    async def notifications(
        self, info: Info[Context, None], after: int = 0, first: int = 50
    ) -> NoticePage:
        ctx = info.context
        viewer = ctx.require_viewer()
        if not 1 <= first <= MAX_PAGE:
            raise bad_input("first", f"first must be between 1 and {MAX_PAGE}")
        if after < 0:
            raise bad_input("after", "after must be a cursor ≥ 0")
        rows = (
            (
                await ctx.session.execute(
                    select(models.Notification)
                    .where(
                        models.Notification.user_id == viewer.user_id,
                        models.Notification.seq > after,
                    )
                    .order_by(models.Notification.seq)
                    .limit(first + 1)
                )
            )
            .scalars()
            .all()
        )
        unread = await ctx.session.scalar(
            select(func.count()).where(
                models.Notification.user_id == viewer.user_id,
                models.Notification.read_at.is_(None),
            )
        )
        page = rows[:first]
        return NoticePage(
            items=[Notice.from_row(r) for r in page],
            end_cursor=page[-1].seq if page else after,
            has_more=len(rows) > first,
            unread=int(unread or 0),
        )

    @strawberry.field(description="The VAPID public key devices subscribe with (Web Push).")
    def vapid_public_key(self, info: Info[Context, None]) -> str | None:
        messaging = info.context.runtime.extras.get("messaging")
        if messaging is None or messaging.push is None:
            return None
        key: str = messaging.push.vapid.application_server_key
        return key

    @strawberry.field(description="Per rep: when they were told of an alignment and acknowledged.")
    async def territory_acknowledgements(
        self, info: Info[Context, None], alignment_id: strawberry.ID
    ) -> list[Acknowledgement]:
        ctx = info.context
        viewer = ctx.require_viewer()
        alignment = await ctx.session.scalar(
            select(models.Alignment).where(
                models.Alignment.id == parse_id(alignment_id, "alignmentId"),
                policy.alignments_visible_to(viewer),
            )
        )
        if alignment is None:
            raise not_found("Alignment", alignment_id)
        if not policy.can_manage_team(viewer, alignment.team_id):
            raise api_error(ErrorCode.FORBIDDEN, "only the team's managers see acknowledgements")
        # The alignment id sits in the stored event; the JSON path keeps the filter in SQL
        # (PostgreSQL and SQLite both index into JSON), so a team with a long history of
        # realignments is not read whole for one answer.
        version = models.Notification.payload["payload"]["alignment_version_id"].as_string()
        rows = await ctx.session.execute(
            select(
                models.Notification.user_id,
                models.Notification.created_at,
                models.Notification.acknowledged_at,
                models.Rep.id,
                models.User.full_name,
            )
            .join(models.User, models.User.id == models.Notification.user_id)
            .join(models.Rep, models.Rep.user_id == models.User.id)
            .where(
                models.Notification.type == TERRITORY_CHANGED,
                models.Rep.team_id == alignment.team_id,
                version == str(alignment.id),
            )
            .order_by(models.Notification.id)
        )
        return [
            Acknowledgement(
                rep_id=strawberry.ID(str(rep_id)),
                user_id=strawberry.ID(str(user_id)),
                full_name=name,
                notified_at=notified_at,
                acknowledged_at=acknowledged_at,
            )
            for user_id, notified_at, acknowledged_at, rep_id, name in rows
        ]


@strawberry.type
class NotificationsMutation:
    @strawberry.mutation(
        description="Mark the caller's notices up to a cursor as read; returns how many."
    )
    async def mark_notifications_read(self, info: Info[Context, None], up_to: int) -> int:
        ctx = info.context
        viewer = ctx.require_viewer()
        result = await ctx.session.execute(
            update(models.Notification)
            .where(
                models.Notification.user_id == viewer.user_id,
                models.Notification.seq <= up_to,
                models.Notification.read_at.is_(None),
            )
            .values(read_at=dt.datetime.now(dt.UTC))
        )
        await ctx.session.commit()
        return int(getattr(result, "rowcount", 0) or 0)

    @strawberry.mutation(description="The rep confirms they have seen a territory change.")
    async def acknowledge_territory_change(
        self, info: Info[Context, None], id: strawberry.ID
    ) -> Notice:
        ctx = info.context
        viewer = ctx.require_viewer()
        row = await ctx.session.scalar(
            select(models.Notification).where(
                and_(
                    models.Notification.seq == parse_id(id),
                    models.Notification.user_id == viewer.user_id,
                )
            )
        )
        if row is None:
            raise not_found("Notification", id)
        if row.type != TERRITORY_CHANGED:
            raise bad_input("id", "only territory changes are acknowledged")
        now = dt.datetime.now(dt.UTC)
        row.acknowledged_at = row.acknowledged_at or now
        row.read_at = row.read_at or now
        await ctx.session.commit()
        return Notice.from_row(row)

    @strawberry.mutation(description="Register this device for Web Push.")
    async def register_push_subscription(
        self, info: Info[Context, None], subscription: PushSubscriptionInput
    ) -> bool:
        ctx = info.context
        viewer = ctx.require_viewer()
        settings = ctx.runtime.settings
        try:
            await register_device(
                ctx.session,
                user_id=viewer.user_id,
                endpoint=subscription.endpoint,
                p256dh=subscription.p256dh,
                auth=subscription.auth,
                policy=settings.push_endpoint_policy,
                max_devices=settings.push_max_devices_per_user,
            )
        except Rejected as exc:
            raise to_graphql_error(exc) from exc
        await ctx.session.commit()
        return True

    @strawberry.mutation(description="Stop Web Push to this device.")
    async def unregister_push_subscription(self, info: Info[Context, None], endpoint: str) -> bool:
        ctx = info.context
        viewer = ctx.require_viewer()
        if len(endpoint) > MAX_ENDPOINT_LENGTH:
            return False  # never stored: nothing to remove, and no reason to send it to SQL
        result = await ctx.session.execute(
            delete(models.PushSubscriptionRecord).where(
                models.PushSubscriptionRecord.endpoint == endpoint,
                models.PushSubscriptionRecord.user_id == viewer.user_id,
            )
        )
        await ctx.session.commit()
        return bool(getattr(result, "rowcount", 0))


@strawberry.type
class NotificationsSubscription:
    @strawberry.subscription(
        description="Live notices; pass the last cursor you saw to get what you missed first."
    )
    async def notifications(
        self, info: Info[Context, None], after: int = 0
    ) -> AsyncGenerator[Notice, None]:
        ctx = info.context
        viewer = ctx.require_viewer()
        messaging = ctx.runtime.extras.get("messaging")
        if messaging is None:
            raise api_error(ErrorCode.UNAVAILABLE, "live notifications are not running; retry")
        async for item in messaging.hub.subscribe(str(viewer.user_id), after):
            title, body = _title_body(item.event)
            yield Notice(
                id=strawberry.ID(str(item.cursor)),
                cursor=item.cursor,
                type=item.event.type.value,
                title=title,
                body=body,
                payload=cast(Any, dict(item.event.payload)),
                created_at=item.event.occurred_at,
                read_at=None,
                acknowledged_at=None,
            )
