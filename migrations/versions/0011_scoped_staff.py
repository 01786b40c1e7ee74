"""scoped staff: an account may be limited to the figures of one municipality

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 03:00:00

Every existing account stays regional (no scope). An account scoped to a municipality can only be
a viewer or a quality account: the database refuses any other role with a scope, so no change of
role in a form or by hand can give a municipality comments, quotes or the admin pages.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("municipality_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_staff_user_municipality_id_municipality"),
            "municipality",
            ["municipality_id"],
            ["id"],
        )
        batch.create_index(batch.f("ix_staff_user_municipality_id"), ["municipality_id"])
        batch.create_check_constraint(
            batch.f("ck_staff_user_scope_role"),
            "municipality_id IS NULL OR role IN ('quality', 'viewer')",
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_constraint(batch.f("ck_staff_user_scope_role"), type_="check")
        batch.drop_index(batch.f("ix_staff_user_municipality_id"))
        batch.drop_constraint(
            batch.f("fk_staff_user_municipality_id_municipality"), type_="foreignkey"
        )
        batch.drop_column("municipality_id")
