"""sealed second-factor secrets: TOTP secrets encrypted at rest, the pending one on the server

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 19:30:00

Every stored TOTP secret is sealed with the installation's cipher (MFA_ENCRYPTION_KEY, see
survey.accounts.secrets), handed over by survey.migrate as `mfa_cipher`; a database file or
dump alone no longer tells anyone a second factor. The secret being set up (until its first
code proves it) moves from the session cookie to the account row, sealed too.
"""

import sqlalchemy as sa
from alembic import context, op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

staff_user = sa.table(
    "staff_user", sa.column("id", sa.Integer), sa.column("totp_secret", sa.String)
)


def _cipher():
    cipher = context.config.attributes.get("mfa_cipher")
    if cipher is None:
        raise RuntimeError("revision 0014 needs the installation's cipher (survey.migrate)")
    return cipher


def _convert(change) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(staff_user.c.id, staff_user.c.totp_secret).where(
            staff_user.c.totp_secret.is_not(None)
        )
    ).all()
    for user_id, secret in rows:
        connection.execute(
            staff_user.update()
            .where(staff_user.c.id == user_id)
            .values(totp_secret=change(secret))
        )


def upgrade() -> None:
    with op.batch_alter_table("staff_user") as batch:
        batch.alter_column(
            "totp_secret", existing_type=sa.String(64), type_=sa.String(255)
        )
        batch.add_column(sa.Column("totp_pending", sa.String(255), nullable=True))
        batch.add_column(sa.Column("totp_pending_at", sa.DateTime(), nullable=True))
    cipher = _cipher()
    _convert(lambda plain: cipher.encrypt(plain.encode()).decode("ascii"))


def downgrade() -> None:
    cipher = _cipher()
    _convert(lambda sealed: cipher.decrypt(sealed.encode("ascii")).decode())
    with op.batch_alter_table("staff_user") as batch:
        batch.drop_column("totp_pending_at")
        batch.drop_column("totp_pending")
        batch.alter_column(
            "totp_secret", existing_type=sa.String(255), type_=sa.String(64)
        )
