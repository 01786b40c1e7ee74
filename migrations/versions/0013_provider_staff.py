"""provider staff: an account may be limited to the families of one provider

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 18:00:00

Every existing account keeps its scope (regional, or one municipality). An account scoped to a
provider may have any role (what a provider's admin may do is limited by the app: its own
provider's audit log, no accounts or imports); no account has two scopes — the database refuses
that, whatever writes the row.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("provider_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_staff_user_provider_id_provider"), "provider", ["provider_id"], ["id"]
        )
        batch.create_index(batch.f("ix_staff_user_provider_id"), ["provider_id"])
        batch.create_check_constraint(
            batch.f("ck_staff_user_one_scope"), "municipality_id IS NULL OR provider_id IS NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_constraint(batch.f("ck_staff_user_one_scope"), type_="check")
        batch.drop_index(batch.f("ix_staff_user_provider_id"))
        batch.drop_constraint(batch.f("fk_staff_user_provider_id_provider"), type_="foreignkey")
        batch.drop_column("provider_id")
