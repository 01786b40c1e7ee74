"""The messages of the mail pipeline (DESIGN §6): composed, queued in the outbox, put on the wire.

When an invitation is sent, its invitation message and its one reminder are rendered together
(the token exists only then) and written to `outbox_message` in the same transaction; the
reminder waits until REMINDER_AFTER_DAYS later. Delivery (survey.mail.outbox) cancels it if the
family answered, opted out or bounced in between, or the link expired, and gives each row its
wire form with `build_mail` just before it is sent.
"""

from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from email.utils import parseaddr

from flask import current_app, render_template
from flask_babel import force_locale, gettext
from sqlalchemy.orm import object_session

from survey.enums import MessageKind, MessageStatus
from survey.invitations.operations import opt_out_url, survey_url
from survey.mail.mime import Content, OutgoingMail, compose
from survey.models import Invitation, OutboxMessage


def new_message_id(mail_from: str) -> str:
    """A fresh Message-ID in the sender's domain."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "localhost"
    return f"<{uuid.uuid4()}@{domain}>"


def _render(kind: str, invitation: Invitation, token: str, now: datetime) -> tuple[str, str, str]:
    """Subject, plain text and HTML of one message, in the invitation's language."""
    config = current_app.config
    context = {
        "kind": kind,
        "link": survey_url(config["PUBLIC_BASE_URL"], token),
        "opt_out_link": opt_out_url(config["PUBLIC_BASE_URL"], token),
        "provider": invitation.episode.provider.name,  # the family's own provider
        "group": invitation.respondent_group,
        "expires_on": (invitation.expires_at or now).date(),
    }
    with force_locale(invitation.language):
        if kind == MessageKind.REMINDER:
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
    schedule = {MessageKind.INVITATION: now}
    if 0 < config["REMINDER_AFTER_DAYS"] < config["EXPIRE_AFTER_DAYS"]:
        # Due from the start of the reminder day, so any run on that day sends it.
        reminder_day = now.date() + timedelta(days=config["REMINDER_AFTER_DAYS"])
        schedule[MessageKind.REMINDER] = datetime.combine(reminder_day, time.min)
    for kind, due in schedule.items():
        subject, body_text, body_html = _render(kind, invitation, token, now)
        session.add(
            OutboxMessage(
                invitation=invitation,
                kind=kind,
                message_id=new_message_id(config["MAIL_FROM"]),
                recipient=invitation.email,
                subject=subject,
                body_text=body_text,
                body_html=body_html,
                status=MessageStatus.PENDING,
                attempts=0,
                next_attempt_at=due,
                created_at=now,
            )
        )


def build_mail(message: OutboxMessage, mail_from: str, now: datetime) -> OutgoingMail:
    """The wire form (plain text + HTML alternative) of an outbox row, dated `now`."""
    content = Content(
        mail_from=mail_from,
        recipient=message.recipient or "",
        subject=message.subject,
        message_id=message.message_id,
        body_text=message.body_text or "",
        body_html=message.body_html or None,
    )
    return compose(content, now)
