"""The email that carries a one-time staff account link (survey.accounts.links), Dutch first.

Sent at once through the configured transport (SMTP, or `.eml` files without SMTP_HOST), not
through the families' outbox: the staff member is waiting for it. The link is the only place the
raw token ever goes.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template
from sqlalchemy.orm import Session

from survey.accounts import audit
from survey.accounts.links import LIFETIMES, issue_link
from survey.enums import LinkPurpose
from survey.mail.messages import new_message_id
from survey.mail.mime import Content, compose
from survey.mail.transports import PermanentMailError, TransientMailError, make_transport
from survey.models import StaffUser

SUBJECTS = {
    LinkPurpose.INVITATION: "Uw account voor Ervaringswijzer · Your Ervaringswijzer account",
    LinkPurpose.RESET: "Nieuw wachtwoord voor Ervaringswijzer · New Ervaringswijzer password",
    LinkPurpose.SECOND_FACTOR: (
        "Authenticator-app instellen voor Ervaringswijzer · Set up your authenticator app"
    ),
}


class LinkNotSent(RuntimeError):
    """The mail with the link could not be handed to the relay (the reason has no address)."""


def link_url(raw_token: str) -> str:
    """The address of a link in the mail."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/staff/link/{raw_token}"


def send_link(user: StaffUser, purpose: LinkPurpose, raw_token: str, now: datetime) -> None:
    """Mail the link to the account's own address; raises LinkNotSent."""
    config = current_app.config
    body = render_template(
        "email/staff_link.txt",
        purpose=purpose.value,
        link=link_url(raw_token),
        hours=int(LIFETIMES[purpose].total_seconds() // 3600),
        provider=user.provider.name if user.provider else config["PROVIDER_NAME"],
        base_url=config["PUBLIC_BASE_URL"],
    )
    content = Content(
        mail_from=config["MAIL_FROM"],
        recipient=user.email,
        subject=SUBJECTS[purpose],
        message_id=new_message_id(config["MAIL_FROM"]),
        body_text=body,
        body_html=None,
    )
    transport = make_transport(config)
    try:
        transport.send(compose(content, now))
    except (TransientMailError, PermanentMailError) as failed:
        raise LinkNotSent(str(failed)) from None
    finally:
        transport.close()


def mail_new_link(session: Session, user: StaffUser, purpose: LinkPurpose, now: datetime) -> None:
    """Issue a link, commit it, and mail it; raises LinkNotSent (the link then waits unused
    until it expires, and a new one replaces it)."""
    raw = issue_link(session, user, purpose, now)
    audit.record(
        session,
        f"{purpose.value.replace('_', '-')} link sent",
        object_type="user",
        object_id=user.id,
        commit=False,
    )
    session.commit()
    send_link(user, purpose, raw, now)
