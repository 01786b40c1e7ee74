"""Sending: one pass (`ervaringswijzer send`) and the delivery loop (`ervaringswijzer worker`)."""

from __future__ import annotations

import logging
import signal
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import click
from sqlalchemy.orm import Session

from survey.invitations import InviteResult, clock, create_due_invitation_messages
from survey.mail import DeliveryResult, count_due, deliver_outbox, queue_invitation_messages
from survey.models import utcnow
from survey.quotes import prepare_comments
from survey.transports import make_transport

log = logging.getLogger(__name__)


@dataclass
class SendResult:
    """The counts a sending pass prints."""

    invitations: InviteResult
    delivery: DeliveryResult

    def summary(self) -> str:
        """One line per figure, for operators."""
        d = self.delivery
        return "\n".join(
            [
                f"Invitations created:        {self.invitations.created}",
                f"Skipped (ended > max age):  {self.invitations.too_old}",
                f"Skipped (opted out):        {self.invitations.suppressed}",
                f"Delivered:                  {d.delivered}",
                f"Reminders delivered:        {d.reminders}",
                f"Retried later:              {d.retried}",
                f"Bounced:                    {d.bounced}",
                f"Failed (gave up):           {d.failed}",
                f"Cancelled (not needed):     {d.cancelled}",
                f"Still due in outbox:        {d.waiting}",
            ]
        )


def send_once(session: Session, config: Mapping[str, Any], today: date) -> SendResult:
    """Queue the messages that are due on `today` and deliver everything due, with progress."""
    invitations = create_due_invitation_messages(session, config, today, queue_invitation_messages)
    due = count_due(session, clock(today))
    with click.progressbar(length=due, label="Sending", file=sys.stderr) as bar:
        delivery = deliver_outbox(
            session,
            make_transport(config),
            config,
            now=lambda: clock(today),
            on_message=lambda: bar.update(1),
        )
    return SendResult(invitations, delivery)


def run_worker(
    session: Session,
    config: Mapping[str, Any],
    *,
    interval: float,
    until_empty: bool = False,
    report: Callable[[DeliveryResult], None] | None = None,
) -> DeliveryResult:
    """Deliver in a loop until SIGTERM/SIGINT (or, with `until_empty`, until nothing is due)."""
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    totals = DeliveryResult()
    try:
        while not stopping:
            result = deliver_outbox(session, make_transport(config), config)
            # New comments are de-identified here, off the request path (deduce loads slowly);
            # whatever goes wrong there, mail delivery goes on.
            try:
                prepare_comments(session, config["PROVIDER_NAME"])
            except Exception as error:
                session.rollback()
                # The type only: a database error's message can carry the comment's text.
                log.error("preparing comments failed (%s); delivery goes on", type(error).__name__)
            totals.add(result)
            if report and (
                result.delivered or result.reminders or result.retried or result.bounced
            ):
                report(result)
            # Messages leased by a worker that died come back when the lease expires: wait for them.
            if until_empty and count_due(session, utcnow(), leased_too=True) == 0:
                break
            slept = 0.0
            while not stopping and slept < interval:
                time.sleep(min(0.2, interval))
                slept += 0.2
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    log.info("worker stopped")
    return totals
