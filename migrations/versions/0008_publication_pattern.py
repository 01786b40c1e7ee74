"""publication_pattern: the suppression pattern of a year, decided once per version of its cells

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 19:10:00

Every figure is published from one pattern per calendar year (analysis/publication.py); deciding
it takes seconds for a region, so the worker stores it here and the web processes read it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "publication_pattern",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("min_cell_size", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("hidden", sa.LargeBinary(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("year", "min_cell_size"),
    )


def downgrade() -> None:
    op.drop_table("publication_pattern")
