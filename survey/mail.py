"""The mail pipeline (DESIGN §6): composing messages into the outbox and delivering them.

When an invitation is sent, its invitation message and its one reminder are rendered together
(the token exists only then) and written to `outbox_message` in the same transaction; the
reminder waits until REMINDER_AFTER_DAYS later and is cancelled at delivery time if the family
answered, opted out or bounced in between, or the link expired. `deliver_outbox` leases due rows
(`FOR UPDATE SKIP LOCKED` on PostgreSQL), hands them to a transport (survey.transports) and
records each outcome right after the server answers. No log line carries an address, a token or
a body.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale, gettext
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, object_session, selectinload

from survey.invitations import opt_out_url, survey_url
from survey.models import Invitation, OutboxMessage, utcnow
from survey.optout import address_hash, suppressed_hashes
from survey.transports import PermanentMailError, TransientMailError, Transport

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 60
BACKOFF_MAX_SECONDS = 3600
# Transient failures are retried until the link expires; a message without one for this long.
GIVE_UP_AFTER = timedelta(days=5)


def _mail_domain(mail_from: str) -> str:
    address = parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def _render(kind: str, invitation: Invitation, token: str, now: datetime) -> tuple[str, str, str]:
    """Subject, plain text and HTML of one message, in the invitation's language."""
    config = current_app.config
    context = {
        "kind": kind,
        "link": survey_url(config["PUBLIC_BASE_URL"], token),
        "opt_out_link": opt_out_url(config["PUBLIC_BASE_URL"], token),
        "provider": config["PROVIDER_NAME"],
        "group": invitation.respondent_group,
        "expires_on": (invitation.expires_at or now).date(),
    }
    with force_locale(invitation.language):
        if kind == "reminder":
            subject = gettext("Reminder: your experience with %(provider)s", **context)
        else:
            subject = gettext("Your experience with %(provider)s", **context)
        return (
            subject,
            render_template("email/invitation.txt", **context),
            render_template("email/invitation.html", **context),
        )


def queue_invitation_messages(invitation: Invitation, token: str, now: datetime) -> None:
    """Add the invitation message and its reminder for `invitation` to the outbox."""
    config = current_app.config
    session = object_session(invitation)
    assert session is not None, "the invitation must belong to a session"
    schedule = {"invitation": now}
    if 0 < config["REMINDER_AFTER_DAYS"] < config["EXPIRE_AFTER_DAYS"]:
        # Due from the start of the reminder day, so any run on that day sends it.
        reminder_day = now.date() + timedelta(days=config["REMINDER_AFTER_DAYS"])
        schedule["reminder"] = datetime.combine(reminder_day, time.min)
    for kind, due in schedule.items():
        subject, body_text, body_html = _render(kind, invitation, token, now)
        session.add(
            OutboxMessage(
                invitation=invitation,
                kind=kind,
                message_id=f"<{uuid.uuid4()}@{_mail_domain(config['MAIL_FROM'])}>",
                recipient=invitation.email,
                subject=subject,
                body_text=body_text,
                body_html=body_html,
                status="pending",
                attempts=0,
                next_attempt_at=due,
                created_at=now,
            )
        )


def build_email(message: OutboxMessage, mail_from: str, now: datetime) -> EmailMessage:
    """The MIME message (plain text + HTML alternative) for an outbox row."""
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = Address(addr_spec=message.recipient or "")
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(now.replace(tzinfo=UTC), usegmt=True)
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.body_text or "", cte="quoted-printable")
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html", cte="quoted-printable")
    return email


@dataclass
class DeliveryResult:
    """What one `deliver_outbox` pass did."""

    delivered: int = 0
    reminders: int = 0
    retried: int = 0
    bounced: int = 0
    failed: int = 0
    cancelled: int = 0
    waiting: int = 0

    def add(self, other: DeliveryResult) -> None:
        """Add the counts of another pass (for the worker's running totals)."""
        for name in self.__dataclass_fields__:
            if name != "waiting":
                setattr(self, name, getattr(self, name) + getattr(other, name))
        self.waiting = other.waiting


def due_query(now: datetime, due_by: datetime | None = None) -> Any:
    """Messages that may be taken at `now`: pending, due by `due_by` (default `now`), and not
    leased by a worker whose lease still runs."""
    return select(OutboxMessage).where(
        OutboxMessage.status == "pending",
        OutboxMessage.next_attempt_at <= (due_by or now),
        or_(OutboxMessage.lease_expires_at.is_(None), OutboxMessage.lease_expires_at < now),
    )


def count_due(session: Session, now: datetime, *, leased_too: bool = False) -> int:
    """How many messages `deliver_outbox` would try at `now` (or, with `leased_too`, including
    those another worker holds a lease on)."""
    query = (
        select(OutboxMessage.id).where(
            OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now
        )
        if leased_too
        else due_query(now)
    )
    return session.scalar(select(func.count()).select_from(query.subquery()))


def _claim_batch(
    session: Session, worker: str, now: datetime, due_by: datetime, size: int, lease: timedelta
) -> list[OutboxMessage]:
    """Lease up to `size` deliverable messages to `worker` from `now` on; commit so other workers
    skip them. Only messages due by `due_by` (the start of the pass) count, so a message that
    failed during this pass waits for its backoff instead of being retried at once."""
    query = (
        due_query(now, due_by)
        .options(selectinload(OutboxMessage.invitation))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(size)
        .with_for_update(skip_locked=True, of=OutboxMessage)
    )
    batch = list(session.scalars(query))
    suppressed = suppressed_hashes(session, [m.recipient for m in batch if m.recipient])
    for message in batch:
        message.lease_owner = worker
        message.lease_expires_at = now + lease
        if message.recipient and address_hash(message.recipient) in suppressed:
            # Opted out through another invitation's link: never send to it again.
            message.status = "cancelled"
    session.commit()
    return batch


def _no_longer_wanted(message: OutboxMessage, now: datetime) -> bool:
    """Whether the family answered, opted out or bounced, or the link expired, since queueing."""
    invitation = message.invitation
    if invitation is None or message.recipient is None or message.status == "cancelled":
        return True
    if invitation.opted_out_at or invitation.bounced_at or invitation.responded_at:
        return True
    return message.kind == "reminder" and (
        invitation.expires_at is None or invitation.expires_at <= now
    )


def _record_delivery(message: OutboxMessage, now: datetime) -> None:
    message.status = "sent"
    message.sent_at = now
    message.lease_owner = message.lease_expires_at = None
    invitation = message.invitation
    if invitation is not None:
        if message.kind == "invitation" and invitation.sent_at is None:
            invitation.sent_at = now
        elif message.kind == "reminder" and invitation.reminded_at is None:
            invitation.reminded_at = now


def _record_failure(message: OutboxMessage, error: Exception, now: datetime) -> str:
    """Schedule a retry with exponential backoff, or give up; return the outcome's name."""
    message.attempts += 1
    message.last_error = str(error)[:500]
    message.lease_owner = message.lease_expires_at = None
    if isinstance(error, PermanentMailError):
        message.status = "bounced"
        if message.invitation is not None and message.invitation.bounced_at is None:
            message.invitation.bounced_at = now
        return "bounced"
    # Retry as long as the link in the message can still be used.
    invitation = message.invitation
    deadline = invitation.expires_at if invitation and invitation.expires_at else None
    if now >= (deadline or message.created_at + GIVE_UP_AFTER):
        message.status = "failed"
        return "failed"
    delay = min(BACKOFF_BASE_SECONDS * 2 ** (message.attempts - 1), BACKOFF_MAX_SECONDS)
    message.next_attempt_at = now + timedelta(seconds=delay)
    return "retried"


def _release(session: Session, messages: list[OutboxMessage]) -> None:
    """Give leased but untried messages back, e.g. after the server went away mid-batch."""
    for message in messages:
        message.lease_owner = message.lease_expires_at = None
    session.commit()


def default_worker_name() -> str:
    """host:pid:random, for lease ownership."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def deliver_outbox(
    session: Session,
    transport: Transport,
    config: Mapping[str, Any],
    *,
    now: Callable[[], datetime] = utcnow,
    worker: str | None = None,
    batch_size: int = 100,
    on_message: Callable[[], None] | None = None,
) -> DeliveryResult:
    """Deliver every message that is due now; each outcome is committed as soon as it is known.

    A connection-level failure (server down, timeout) ends the pass: the rest of the batch is
    released for the next pass instead of waiting for the same timeout message after message.
    """
    worker = worker or default_worker_name()
    lease = timedelta(seconds=config["OUTBOX_LEASE_SECONDS"])
    result = DeliveryResult()
    started = now()
    try:
        while batch := _claim_batch(session, worker, now(), started, batch_size, lease):
            for position, message in enumerate(batch):
                at = now()
                if message.lease_expires_at is None or message.lease_expires_at <= at:
                    # Our lease ran out while earlier messages were sent: another worker may
                    # hold this one now. Leave it; whoever leases it next sends it.
                    continue
                outcome, unreachable = _deliver_one(message, transport, config["MAIL_FROM"], at)
                setattr(result, outcome, getattr(result, outcome) + 1)
                session.commit()
                if on_message:
                    on_message()
                if unreachable:
                    _release(session, batch[position + 1 :])
                    return _finish(session, result, started)
    finally:
        transport.close()
    return _finish(session, result, started)


def _deliver_one(
    message: OutboxMessage, transport: Transport, mail_from: str, at: datetime
) -> tuple[str, bool]:
    """Try one message; return the outcome's name and whether the server was unreachable."""
    if _no_longer_wanted(message, at):
        message.status = "cancelled"
        message.lease_owner = message.lease_expires_at = None
        return "cancelled", False
    try:
        transport.send(build_email(message, mail_from, at))
    except (TransientMailError, PermanentMailError) as exc:
        unreachable = isinstance(exc, TransientMailError) and exc.connection
        return _record_failure(message, exc, at), unreachable
    _record_delivery(message, at)
    return ("reminders" if message.kind == "reminder" else "delivered"), False


def _finish(session: Session, result: DeliveryResult, started: datetime) -> DeliveryResult:
    result.waiting = count_due(session, started)
    log.info(
        "outbox pass: delivered %d, reminders %d, retried %d, bounced %d, failed %d, "
        "cancelled %d, still due %d",
        result.delivered,
        result.reminders,
        result.retried,
        result.bounced,
        result.failed,
        result.cancelled,
        result.waiting,
    )
    return result
