"""The mail pipeline (DESIGN §6): composing messages into the outbox and delivering them.

Messages are rendered when they are queued (the token exists only then) and stored in
`outbox_message`. `deliver_outbox` leases pending rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL),
hands them to a transport and records the outcome of each message right after the server accepts
it. Transports: SMTP with an explicit timeout when SMTP_HOST is set, else `.eml` files in
MAIL_FILE_DIR. No log line carries an address, a token or a body.
"""

from __future__ import annotations

import logging
import os
import smtplib
import socket
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any, Protocol

from flask import current_app, render_template
from flask_babel import force_locale, gettext
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, object_session

from survey.invitations import survey_url
from survey.models import Invitation, OutboxMessage, utcnow

log = logging.getLogger(__name__)

LEASE_SECONDS = 300
MAX_ATTEMPTS = 8
BACKOFF_BASE_SECONDS = 60


class TransientMailError(Exception):
    """Delivery failed for now (4xx, refused connection, timeout): try again later."""


class PermanentMailError(Exception):
    """The server refused the message for good (5xx): the address bounces."""


def _mail_domain(mail_from: str) -> str:
    address = parseaddr(mail_from)[1]
    return address.rpartition("@")[2] or "localhost"


def queue_invitation_message(invitation: Invitation, token: str, now: datetime) -> OutboxMessage:
    """Render the invitation email for `invitation` in its language and add it to the outbox."""
    config = current_app.config
    link = survey_url(config["PUBLIC_BASE_URL"], token)
    context = {
        "link": link,
        "provider": config["PROVIDER_NAME"],
        "group": invitation.respondent_group,
        "expires_on": (invitation.expires_at or now).date(),
    }
    with force_locale(invitation.language):
        subject = gettext("Your experience with %(provider)s", provider=config["PROVIDER_NAME"])
        body_text = render_template("email/invitation.txt", **context)
        body_html = render_template("email/invitation.html", **context)
    message = OutboxMessage(
        invitation=invitation,
        kind="invitation",
        message_id=f"<{uuid.uuid4()}@{_mail_domain(config['MAIL_FROM'])}>",
        recipient=invitation.email,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session = object_session(invitation)
    assert session is not None, "the invitation must belong to a session"
    session.add(message)
    return message


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


class Transport(Protocol):
    """Something that delivers an EmailMessage or raises a Transient/PermanentMailError."""

    def send(self, email: EmailMessage) -> None: ...

    def close(self) -> None: ...


class FileTransport:
    """Writes each message as `<outbox-id>.eml` into a folder (the embedded default)."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def send(self, email: EmailMessage) -> None:
        name = str(email["Message-ID"]).strip("<>").replace("@", "_at_").replace("/", "_")
        target = self.directory / f"{name}.eml"
        partial = target.with_suffix(".eml.part")
        partial.write_bytes(bytes(email))
        os.replace(partial, target)  # a reader never sees half a message

    def close(self) -> None:
        pass


class SmtpTransport:
    """Delivers over one reused SMTP connection, with a timeout on every call."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.host = config["SMTP_HOST"]
        self.port = config["SMTP_PORT"]
        self.timeout = config["SMTP_TIMEOUT"]
        self.starttls = config["SMTP_STARTTLS"]
        self.username = config["SMTP_USERNAME"]
        self.password = config["SMTP_PASSWORD"]
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.starttls:
            smtp.starttls()
        if self.username:
            smtp.login(self.username, self.password or "")
        return smtp

    def send(self, email: EmailMessage) -> None:
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            refused = self._smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            self._raise_for(min(codes) if codes else 550, "recipient refused")
        except smtplib.SMTPResponseException as exc:
            self._drop_connection()
            self._raise_for(exc.smtp_code, "server answered")
        except (TimeoutError, smtplib.SMTPException, OSError) as exc:
            self._drop_connection()
            raise TransientMailError(type(exc).__name__) from None
        else:
            if refused:  # only with several recipients; we always send to one
                raise PermanentMailError("recipient refused")

    @staticmethod
    def _raise_for(code: int, what: str) -> None:
        if 500 <= code < 600:
            raise PermanentMailError(f"{what} {code}")
        raise TransientMailError(f"{what} {code}")

    def _drop_connection(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.close()
            finally:
                self._smtp = None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            finally:
                self._smtp = None


def make_transport(config: Mapping[str, Any]) -> Transport:
    """SMTP when SMTP_HOST is set, otherwise `.eml` files in MAIL_FILE_DIR."""
    if config.get("SMTP_HOST"):
        return SmtpTransport(config)
    return FileTransport(config["MAIL_FILE_DIR"])


@dataclass
class DeliveryResult:
    """What one `deliver_outbox` pass did."""

    delivered: int = 0
    retried: int = 0
    bounced: int = 0
    waiting: int = 0


def _claim_batch(session: Session, worker: str, now: datetime, size: int) -> list[OutboxMessage]:
    """Lease up to `size` deliverable messages to `worker`; commit so others skip them."""
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.status == "pending",
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.lease_expires_at.is_(None), OutboxMessage.lease_expires_at < now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(size)
        .with_for_update(skip_locked=True)
    )
    batch = list(session.scalars(query))
    for message in batch:
        message.lease_owner = worker
        message.lease_expires_at = now + timedelta(seconds=LEASE_SECONDS)
    session.commit()
    return batch


def _record_delivery(session: Session, message: OutboxMessage, now: datetime) -> None:
    message.status = "sent"
    message.sent_at = now
    message.lease_owner = message.lease_expires_at = None
    if message.invitation_id is not None and message.kind == "invitation":
        session.execute(
            update(Invitation)
            .where(Invitation.id == message.invitation_id, Invitation.sent_at.is_(None))
            .values(sent_at=now)
        )


def _record_failure(
    session: Session, message: OutboxMessage, error: Exception, now: datetime
) -> str:
    message.attempts += 1
    message.last_error = str(error)[:500]
    message.lease_owner = message.lease_expires_at = None
    if isinstance(error, PermanentMailError) or message.attempts >= MAX_ATTEMPTS:
        message.status = "bounced"
        if message.invitation_id is not None:
            session.execute(
                update(Invitation)
                .where(Invitation.id == message.invitation_id, Invitation.bounced_at.is_(None))
                .values(bounced_at=now)
            )
        return "bounced"
    message.next_attempt_at = now + timedelta(
        seconds=BACKOFF_BASE_SECONDS * 2 ** (message.attempts - 1)
    )
    return "retried"


def deliver_outbox(
    session: Session,
    transport: Transport,
    mail_from: str,
    *,
    now: Callable[[], datetime] = utcnow,
    worker: str | None = None,
    batch_size: int = 100,
    on_message: Callable[[], None] | None = None,
) -> DeliveryResult:
    """Deliver every message that is due now; each outcome is committed as soon as it is known."""
    worker = worker or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    result = DeliveryResult()
    started = now()
    try:
        while batch := _claim_batch(session, worker, started, batch_size):
            for message in batch:
                try:
                    transport.send(build_email(message, mail_from, now()))
                except (TransientMailError, PermanentMailError) as exc:
                    outcome = _record_failure(session, message, exc, now())
                    setattr(result, outcome, getattr(result, outcome) + 1)
                else:
                    _record_delivery(session, message, now())
                    result.delivered += 1
                session.commit()
                if on_message:
                    on_message()
    finally:
        transport.close()
    result.waiting = session.scalar(
        select(func.count(OutboxMessage.id)).where(OutboxMessage.status == "pending")
    )
    log.info(
        "outbox pass: delivered %d, retried %d, bounced %d, waiting %d",
        result.delivered,
        result.retried,
        result.bounced,
        result.waiting,
    )
    return result
