"""Leases: a worker never sends what another worker holds, even late in a long pass."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from survey.db import get_session
from survey.invitations.operations import create_due_invitation_messages
from survey.mail.messages import queue_invitation_messages
from survey.mail.outbox import deliver_outbox
from survey.models import utcnow
from tests.factories import make_invitation


class SlowTransport:
    """Each message takes 6 simulated seconds."""

    def __init__(self, name: str, clock: list, sent: list) -> None:
        self.name, self.clock, self.sent = name, clock, sent

    def send(self, mail) -> None:
        self.clock[0] += timedelta(seconds=6)
        self.sent.append((self.name, mail.message_id))

    def close(self) -> None:
        pass


def test_batch_claimed_late_in_a_long_pass_is_not_sent_twice(app):
    # Sends take 6 s, as long as the SMTP timeout allows, against a 10 s lease: a send may only
    # start with 5 s of lease left (half the lease), so some messages wait for a later lease.
    config = {**app.config, "OUTBOX_LEASE_SECONDS": 10, "SMTP_TIMEOUT": 6}
    with app.app_context():
        session = get_session()
        for n in range(6):
            make_invitation(session, email=f"gezin{n}@example.org")
        session.commit()
        start = utcnow()
        create_due_invitation_messages(session, config, start.date(), queue_invitation_messages)
        clock = [start + timedelta(seconds=1)]
        sent: list[tuple[str, str]] = []
        other_session = app.extensions["db_sessionmaker"]()

        done_by_a = []

        def after_each_of_a() -> None:
            # Worker B runs a whole pass right after A recorded its third message, which A
            # sent from its third batch, claimed 12 s into its pass (past the 10 s lease of its
            # first batch), while A's next send may be on the wire.
            done_by_a.append(1)
            if len(done_by_a) == 3:
                deliver_outbox(
                    other_session,
                    SlowTransport("B", clock, sent),
                    config,
                    now=lambda: clock[0],
                    worker="B",
                    batch_size=2,
                )

        deliver_outbox(
            session,
            SlowTransport("A", clock, sent),
            config,
            now=lambda: clock[0],
            worker="A",
            batch_size=2,
            on_message=after_each_of_a,
        )
        other_session.close()
    counts = Counter(message_id for _, message_id in sent)
    assert len(counts) == 6, sent
    assert set(counts.values()) == {1}, sent
    assert {name for name, _ in sent} == {"A", "B"}  # both really worked
