"""recordBreadcrumbs: batched, idempotent per rep and instant, bad points reported by index."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from backend.db.models import Breadcrumb
from backend.runtime import Runtime
from tests.conftest import Api, World

RECORD = """
mutation RecordBreadcrumbs($points: [BreadcrumbInput!]!) {
  recordBreadcrumbs(points: $points) { accepted duplicates rejected { index field message } }
}
"""


async def stored(runtime: Runtime) -> list[tuple[float, float]]:
    async with runtime.sessionmaker() as session:
        rows = await session.execute(
            select(Breadcrumb.lat, Breadcrumb.lon).order_by(Breadcrumb.recorded_at)
        )
        return [(lat, lon) for lat, lon in rows]


async def test_resent_batch_is_idempotent_and_first_position_kept(
    api: Api, world: World, runtime: Runtime
) -> None:
    await api.login("repa1@x.test", world.password)
    t0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    batch = [
        {
            "recordedAt": (t0 + timedelta(seconds=30 * i)).isoformat(),
            "lat": [47.1, 47.101, 47.102][i],
            "lon": 9.5,
        }
        for i in range(3)
    ]
    first = await api.gql(RECORD, points=batch)
    assert first["data"]["recordBreadcrumbs"] == {"accepted": 3, "duplicates": 0, "rejected": []}  # type: ignore[index]
    again = await api.gql(RECORD, points=[*batch, {**batch[0], "lat": 10.0}])
    assert again["data"]["recordBreadcrumbs"] == {"accepted": 0, "duplicates": 4, "rejected": []}  # type: ignore[index]
    assert await stored(runtime) == [(47.1, 9.5), (47.101, 9.5), (47.102, 9.5)]


async def test_bad_points_are_reported_by_index_and_good_ones_kept(
    api: Api, world: World, runtime: Runtime
) -> None:
    await api.login("repa1@x.test", world.password)
    now = datetime.now(UTC).replace(microsecond=0)
    batch = [
        {"recordedAt": (now - timedelta(minutes=3)).isoformat(), "lat": 47.1, "lon": 9.5},
        {"recordedAt": (now - timedelta(minutes=2)).isoformat(), "lat": 95.0, "lon": 9.5},
        {"recordedAt": (now + timedelta(minutes=30)).isoformat(), "lat": 47.1, "lon": 9.5},
        {
            "recordedAt": (now - timedelta(minutes=1)).isoformat(),
            "lat": 47.1,
            "lon": 9.5,
            "accuracyM": -1.0,
        },
    ]
    body = await api.gql(RECORD, points=batch)
    result = body["data"]["recordBreadcrumbs"]  # type: ignore[index]
    assert result["accepted"] == 1 and result["duplicates"] == 0
    assert [(r["index"], r["field"]) for r in result["rejected"]] == [
        (1, "points[1].lat"),
        (2, "points[2].recordedAt"),
        (3, "points[3].accuracyM"),
    ]
    async with runtime.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Breadcrumb)) == 1


async def test_only_reps_send_breadcrumbs(api: Api, world: World) -> None:
    await api.login("managera@x.test", world.password)
    body = await api.gql(RECORD, points=[])
    assert body["errors"][0]["extensions"] == {"code": "FORBIDDEN"}  # type: ignore[index]
