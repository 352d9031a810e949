"""One active alignment per team, ids never reused, token versions and refresh tokens.

* ``uq_alignments_one_active_per_team``: a partial unique index (``WHERE state = 'ACTIVE'``, on
  SQLite and PostgreSQL alike), so two concurrent commits cannot leave a team with two active
  versions. A team that the old race already left with several keeps its newest one.
* SQLite tables whose ids reach clients are rebuilt with ``AUTOINCREMENT``: without it SQLite
  hands a deleted row's id to the next insert, and a deleted user's token named the next user.
  (PostgreSQL sequences never go back; nothing to do there.)
* ``users.token_version``: carried in every access token, bumped by a password change or a
  "log out everywhere", which voids the tokens issued before.
* ``refresh_tokens``: SHA-256 digests of refresh tokens, by login family (rotation and reuse
  detection, see ``backend.auth.refresh``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Tables whose ids appear in tokens, GraphQL ids or URLs (parents before children).
NEVER_REUSED = ("teams", "users", "reps", "accounts", "alignments", "territories", "visits")
ONE_ACTIVE = "uq_alignments_one_active_per_team"
ACTIVE_ONLY = sa.text("state = 'ACTIVE'")


def _rebuild_with_autoincrement(bind: sa.engine.Connection) -> None:
    """Recreate each table as ``INTEGER PRIMARY KEY AUTOINCREMENT`` (SQLite cannot alter it).

    Dropping the old table with foreign keys enforced would run its ON DELETE actions (CASCADE
    would empty ``reps``...), so ``env.py`` turns enforcement off for migrations; refuse to go on
    with data present if it is somehow still on.
    """
    enforced = bind.exec_driver_sql("PRAGMA foreign_keys").scalar()
    if enforced and bind.exec_driver_sql("SELECT 1 FROM users LIMIT 1").first() is not None:
        msg = "PRAGMA foreign_keys is on: rebuilding tables would cascade deletes; aborting"
        raise RuntimeError(msg)
    for table in NEVER_REUSED:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        _rebuild_with_autoincrement(bind)
    op.execute(
        "UPDATE alignments SET state = 'ARCHIVED' WHERE state = 'ACTIVE' AND id < "
        "(SELECT MAX(newest.id) FROM alignments AS newest "
        "WHERE newest.team_id = alignments.team_id AND newest.state = 'ACTIVE')"
    )
    op.create_index(
        ONE_ACTIVE,
        "alignments",
        ["team_id"],
        unique=True,
        sqlite_where=ACTIVE_ONLY,
        postgresql_where=ACTIVE_ONLY,
    )
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("token_version", sa.Integer(), server_default="0", nullable=False)
        )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("family_id", sa.String(length=36), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_refresh_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_tokens_token_hash")),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["family_id"])
    op.create_index(op.f("ix_refresh_tokens_user_id"), "refresh_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_refresh_tokens_user_id"), table_name="refresh_tokens")
    op.drop_index("ix_refresh_tokens_family", table_name="refresh_tokens")
    op.drop_table("refresh_tokens")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("token_version")
    op.drop_index(ONE_ACTIVE, table_name="alignments")
    # AUTOINCREMENT stays: ids that were never reused may stay that way.
