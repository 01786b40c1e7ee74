"""passkeys and single sign-on: WebAuthn credentials beside the authenticator app, the
challenge of a ceremony under way, and the OpenID Connect identity bound to an account

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 20:30:00

A passkey row holds the credential's id, its public key and signature counter: nothing in it
lets anyone sign in. The challenge is kept on the account row and taken once; the first
identity that signs in through single sign-on is the only one that may afterwards.
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "passkey",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.LargeBinary(length=1024), nullable=False),
        sa.Column("public_key", sa.LargeBinary(length=2048), nullable=False),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_user.id"],
            name=op.f("fk_passkey_user_id_staff_user"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_passkey")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_passkey_credential_id")),
    )
    op.create_index(op.f("ix_passkey_user_id"), "passkey", ["user_id"])
    with op.batch_alter_table("staff_user") as batch:
        batch.add_column(sa.Column("passkey_challenge", sa.String(128), nullable=True))
        batch.add_column(sa.Column("passkey_challenge_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("oidc_subject", sa.String(512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("oidc_subject")
        batch.drop_column("passkey_challenge_at")
        batch.drop_column("passkey_challenge")
    op.drop_index(op.f("ix_passkey_user_id"), table_name="passkey")
    op.drop_table("passkey")
