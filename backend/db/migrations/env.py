"""Alembic environment: runs migrations on the async engine of the configured URL."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from backend.db.engine import make_engine
from backend.db.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # Batch migrations rebuild SQLite tables (copy, drop, rename); dropping a parent with
        # foreign keys enforced would run its ON DELETE CASCADE on the children. The pragma only
        # takes effect outside a transaction, hence before the migrations begin theirs.
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                msg = f"migrations left rows with dangling foreign keys: {broken[:5]}"
                raise RuntimeError(msg)
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")


async def _run_async(url: str) -> None:
    engine = make_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


def run_offline(url: str) -> None:
    """Emit SQL without a database (``alembic upgrade --sql``)."""
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


url: Any = config.get_main_option("sqlalchemy.url")
existing: Connection | None = config.attributes.get("connection")
if context.is_offline_mode():
    run_offline(url)
elif existing is not None:
    _run(existing)
else:
    asyncio.run(_run_async(url))
