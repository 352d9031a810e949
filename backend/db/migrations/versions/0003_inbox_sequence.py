"""Dense per-user inbox cursor (notifications.seq).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.add_column(sa.Column("seq", sa.Integer(), nullable=True))
    op.execute(
        "UPDATE notifications SET seq = (SELECT COUNT(*) FROM notifications AS n "
        "WHERE n.user_id = notifications.user_id AND n.id <= notifications.id)"
    )
    with op.batch_alter_table("notifications") as batch:
        batch.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint("uq_notifications_user_seq", ["user_id", "seq"])


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_constraint("uq_notifications_user_seq", type_="unique")
        batch.drop_column("seq")
