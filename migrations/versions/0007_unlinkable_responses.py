"""unlinkable responses: answered to the day, the after-reminder rule, every response mixed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 10:00:00

`invitation.responded_at` now holds only the day an invitation was answered (midnight,
survey.responses): a time to the second pairs it with the response stored in the same instant.
The values stored before are cut to midnight. With that, "answered after the reminder" in the
funnel becomes "answered on or after the day of the reminder" (survey.cells): the triggers are
made again from the live code, as 0005 does, and the cells rebuilt from the base tables.

Every response stored so far is mixed once (survey.mixing), one submitted month at a time, so
that the order in which they were stored says nothing from this revision on; afterwards `send`,
the worker and `purge` keep mixing the recent ones. The answer tables are reflected, so the copy
holds exactly the columns of this revision whatever the live models grow later. The triggers are
off while mixing: the rebuild counts everything once at the end.
"""

import sqlalchemy as sa
from alembic import op

from survey.cells import create_triggers, drop_triggers, rebuild
from survey.mixing import AnswerTables, mix_every_month

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# SQLite stores SQLAlchemy's DateTime as text, 'YYYY-MM-DD HH:MM:SS.ffffff'; keep that form.
MIDNIGHT = {
    'postgresql': "date_trunc('day', responded_at)",
    'sqlite': "date(responded_at) || ' 00:00:00.000000'",
}


def upgrade() -> None:
    bind = op.get_bind()
    drop_triggers(bind)
    midnight = MIDNIGHT[bind.dialect.name]
    op.execute(
        f"UPDATE invitation SET responded_at = {midnight} "
        f"WHERE responded_at IS NOT NULL AND responded_at <> {midnight}"
    )
    metadata = sa.MetaData()
    reflected = [
        sa.Table(name, metadata, autoload_with=bind)
        for name in ('response', 'response_answer', 'comment')
    ]
    mix_every_month(bind, AnswerTables(*reflected))
    create_triggers(bind)
    rebuild(bind)


def downgrade() -> None:
    # Nothing to undo that can be undone: the times of day and the stored order are gone on
    # purpose, and the triggers (live code, as in 0005) keep the day rule.
    pass
