"""The delivery claim reads one batch along its index, however many messages are due."""

from __future__ import annotations

from sqlalchemy.orm import Session

from survey.db import get_session
from survey.invitations.operations import ANALYZE_AFTER, create_due_invitation_messages
from survey.mail.messages import queue_invitation_messages
from survey.mail.outbox import claim_query
from survey.models import utcnow
from tests.factories import make_invitation


def claim_plan(session: Session, query) -> str:
    """The database's plan for `query`, as text."""
    dialect = session.get_bind().dialect
    sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    explain = "EXPLAIN" if dialect.name == "postgresql" else "EXPLAIN QUERY PLAN"
    rows = session.connection().exec_driver_sql(f"{explain} {sql}").all()
    return "\n".join(str(row[-1]) for row in rows)


def test_right_after_a_large_queueing_each_claim_reads_one_batch_without_sorting(app):
    # `send` queues the day's invitations and delivers them straight away, before autovacuum
    # has looked at the outbox: the claim must still walk the due index (no sort of all due
    # messages for every batch of 100, which at 20,000 due made delivery half as fast).
    with app.app_context():
        session = get_session()
        for n in range(ANALYZE_AFTER):
            make_invitation(session, email=f"gezin{n}@example.org")
        session.commit()
        now = utcnow()
        queued = create_due_invitation_messages(
            session, app.config, now.date(), queue_invitation_messages
        )
        assert queued.created == ANALYZE_AFTER
        plan = claim_plan(session, claim_query(now, now, 100))
        session.rollback()
    if session.get_bind().dialect.name == "postgresql":
        assert "Index Scan using ix_outbox_message_due" in plan, plan
        assert "Sort" not in plan, plan
    else:
        assert "USING INDEX ix_outbox_message_due" in plan, plan
        assert "TEMP B-TREE" not in plan, plan
