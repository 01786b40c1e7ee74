"""Sending: one pass (`ervaringswijzer send`) and the delivery loop (`ervaringswijzer worker`).

Both also mix the recent responses (survey.answers.mixing): the pass once, the worker at most
once an hour, so a new response does not keep its submission-order place for long.
"""

from __future__ import annotations

import logging
import signal
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from survey.answers.mixing import mix_responses
from survey.invitations.operations import InviteResult, clock, create_due_invitation_messages
from survey.mail.messages import queue_invitation_messages
from survey.mail.outbox import DeliveryResult, count_due, deliver_outbox
from survey.mail.transports import make_transport
from survey.models import utcnow
from survey.quotes.operations import prepare_comments
from survey.reporting.publication import decide_patterns

log = logging.getLogger(__name__)

# How often a worker mixes the recent responses: the longest a new one keeps its place.
MIX_EVERY_SECONDS = 3600.0
DECIDE_EVERY_SECONDS = 60.0  # the publication pattern: pages read it from the database


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


def send_once(
    session: Session,
    config: Mapping[str, Any],
    today: date,
    *,
    on_start: Callable[[int], None] | None = None,
    on_message: Callable[[], None] | None = None,
) -> SendResult:
    """Queue the messages that are due on `today` and deliver everything due.

    The caller shows the progress, if any: `on_start(due)` once the due messages are counted,
    `on_message()` after each one is finished (the command line draws a bar; the web does not).
    """
    invitations = create_due_invitation_messages(session, config, today, queue_invitation_messages)
    if on_start is not None:
        on_start(count_due(session, clock(today)))
    delivery = deliver_outbox(
        session, make_transport(config), config, now=lambda: clock(today), on_message=on_message
    )
    mix_quietly(session, today)
    decide_quietly(session, config)
    return SendResult(invitations, delivery)


def decide_quietly(session: Session, config: Mapping[str, Any]) -> None:
    """Decide the publication pattern of every year whose figures changed, so that no page
    waits for it (`survey.reporting.publication.decide_patterns`); a failure never stops the
    mail."""
    try:
        decide_patterns(session, config["MIN_CELL_SIZE"])
    except Exception as error:
        session.rollback()
        log.error("deciding the publication pattern failed (%s)", type(error).__name__)


def mix_quietly(session: Session, today: date) -> None:
    """Mix the recent responses; a failure is logged (type only) and never stops the mail."""
    try:
        mix_responses(session, today)
    except Exception as error:
        session.rollback()
        log.error("mixing responses failed (%s); delivery goes on", type(error).__name__)


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
    last_mixed: float | None = None  # in memory: a restarted worker mixes at once
    last_decided: float | None = None
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
            if last_mixed is None or time.monotonic() - last_mixed >= MIX_EVERY_SECONDS:
                last_mixed = time.monotonic()  # a failed mix, too, waits for the next hour
                mix_quietly(session, utcnow().date())
            if last_decided is None or time.monotonic() - last_decided >= DECIDE_EVERY_SECONDS:
                last_decided = time.monotonic()
                decide_quietly(session, config)
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
