"""One sending pass (`ervaringswijzer send`): queue due invitations, then deliver the outbox."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import click
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey.invitations import InviteResult, clock, create_due_invitation_messages
from survey.mail import DeliveryResult, deliver_outbox, make_transport, queue_invitation_message
from survey.models import OutboxMessage


@dataclass
class SendResult:
    """The counts a sending pass prints."""

    invitations: InviteResult
    delivery: DeliveryResult

    def summary(self) -> str:
        """One line per figure, for operators."""
        return "\n".join(
            [
                f"Invitations created:        {self.invitations.created}",
                f"Skipped (ended > max age):  {self.invitations.too_old}",
                f"Delivered:                  {self.delivery.delivered}",
                f"Retried later:              {self.delivery.retried}",
                f"Bounced:                    {self.delivery.bounced}",
                f"Still waiting in outbox:    {self.delivery.waiting}",
            ]
        )


def send_once(session: Session, config: Mapping[str, Any], today: date) -> SendResult:
    """Queue the messages that are due on `today` and deliver everything deliverable."""
    invitations = create_due_invitation_messages(session, config, today, queue_invitation_message)
    pending = session.scalar(
        select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")
    )
    with click.progressbar(length=pending, label="Sending", file=sys.stderr) as bar:
        delivery = deliver_outbox(
            session,
            make_transport(config),
            config["MAIL_FROM"],
            now=lambda: clock(today),
            on_message=lambda: bar.update(1),
        )
    return SendResult(invitations, delivery)
