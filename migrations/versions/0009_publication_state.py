"""publication_pattern.state: the pattern with the counts it was decided for

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 22:30:00

A new pattern keeps showing what the previous one showed where the counts have not changed
(analysis/publication.py, `previous`), so it needs the previous pattern's counts per node.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("publication_pattern") as batch:
        batch.add_column(sa.Column("state", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("publication_pattern") as batch:
        batch.drop_column("state")
