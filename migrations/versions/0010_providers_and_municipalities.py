"""providers and municipalities as data: every episode belongs to one provider

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:00:00

An installation that already holds episodes or responses gets one provider, named after
PROVIDER_NAME (the name its families have read so far), and every episode and every response
becomes that provider's (a response carries its provider as it carries its team); the municipality
list starts as the municipalities its episodes name, so the next import is checked against the
spellings already in use. An episode's external id is unique per provider from here on (two
providers may both number their trajectories from 1).

On SQLite the episode and response tables are rebuilt (batch mode): the cell triggers are
dropped first and put back afterwards exactly as they were (their own SQL, read from
sqlite_master), so the kept cells go on counting as before.
"""

import os
import re
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import context, op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def _slug(name: str) -> str:
    """'Zorg & Co Amersfoort' → 'zorg-co-amersfoort'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64] or "provider"


def _provider_name() -> str:
    name = context.config.attributes.get("provider_name") or os.environ.get("PROVIDER_NAME")
    return name or "MetMaya"


def upgrade() -> None:
    op.create_table(
        "provider",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_provider")),
        sa.UniqueConstraint("slug", name=op.f("uq_provider_slug")),
    )
    op.create_table(
        "municipality",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=6), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_municipality")),
        sa.UniqueConstraint("code", name=op.f("uq_municipality_code")),
        sa.UniqueConstraint("name", name=op.f("uq_municipality_name")),
    )
    bind = op.get_bind()
    has_episodes = bind.execute(sa.text("SELECT count(*) FROM episode")).scalar_one() > 0
    has_responses = bind.execute(sa.text("SELECT count(*) FROM response")).scalar_one() > 0
    if has_episodes or has_responses:
        name = _provider_name()
        bind.execute(
            sa.text("INSERT INTO provider (slug, name, created_at) VALUES (:slug, :name, :now)"),
            {"slug": _slug(name), "name": name, "now": datetime.now(UTC).replace(tzinfo=None)},
        )
        bind.execute(
            sa.text(
                "INSERT INTO municipality (name) SELECT DISTINCT municipality FROM episode "
                "WHERE municipality <> ''"
            )
        )
    triggers = _sqlite_triggers(bind)
    for trigger_name in triggers:
        bind.execute(sa.text(f"DROP TRIGGER IF EXISTS {trigger_name}"))
    with op.batch_alter_table("episode") as batch:
        batch.add_column(sa.Column("provider_id", sa.Integer(), nullable=True))
    with op.batch_alter_table("response") as batch:
        batch.add_column(sa.Column("provider_id", sa.Integer(), nullable=True))
    if has_episodes or has_responses:
        bind.execute(sa.text("UPDATE episode SET provider_id = (SELECT min(id) FROM provider)"))
        bind.execute(sa.text("UPDATE response SET provider_id = (SELECT min(id) FROM provider)"))
    with op.batch_alter_table("episode") as batch:
        batch.alter_column("provider_id", existing_type=sa.Integer(), nullable=False)
        batch.drop_constraint("uq_episode_external_id", type_="unique")
        batch.create_unique_constraint(
            "uq_episode_provider_id_external_id", ["provider_id", "external_id"]
        )
        batch.create_foreign_key(
            "fk_episode_provider_id_provider", "provider", ["provider_id"], ["id"]
        )
        batch.create_index("ix_episode_provider_id", ["provider_id"], unique=False)
    with op.batch_alter_table("response") as batch:
        batch.alter_column("provider_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            "fk_response_provider_id_provider", "provider", ["provider_id"], ["id"]
        )
    for statement in triggers.values():
        bind.execute(sa.text(statement))


def _sqlite_triggers(bind: sa.Connection) -> dict[str, str]:
    """On SQLite, every trigger's name and SQL (the batch rebuild of episode would break them);
    on PostgreSQL nothing (the table is altered in place)."""
    if bind.dialect.name != "sqlite":
        return {}
    rows = bind.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"))
    return {name: sql for name, sql in rows}


def downgrade() -> None:
    triggers = _sqlite_triggers(op.get_bind())
    for trigger_name in triggers:
        op.get_bind().execute(sa.text(f"DROP TRIGGER IF EXISTS {trigger_name}"))
    with op.batch_alter_table("response") as batch:
        batch.drop_constraint("fk_response_provider_id_provider", type_="foreignkey")
        batch.drop_column("provider_id")
    with op.batch_alter_table("episode") as batch:
        batch.drop_index("ix_episode_provider_id")
        batch.drop_constraint("fk_episode_provider_id_provider", type_="foreignkey")
        batch.drop_constraint("uq_episode_provider_id_external_id", type_="unique")
        batch.create_unique_constraint("uq_episode_external_id", ["external_id"])
        batch.drop_column("provider_id")
    for statement in triggers.values():
        op.get_bind().execute(sa.text(statement))
    op.drop_table("municipality")
    op.drop_table("provider")
