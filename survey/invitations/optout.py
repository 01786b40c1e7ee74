"""Opting out of mail: the suppression list and what a confirmed opt-out changes.

An opted-out address is remembered only as a hash (`mail_suppression`), so retention can erase
the address itself. Every invitation to the address that has not been answered is marked opted
out and its pending messages are cancelled; invitations imported later for a suppressed address
are stored without the address (`survey.episodes.importing`) and so can never be mailed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from survey.db import rows_affected
from survey.enums import MessageStatus
from survey.models import Invitation, MailSuppression, OutboxMessage

log = logging.getLogger(__name__)

# A fixed, application-specific prefix: the same address hashes the same way across restarts and
# key rotations, and the hashes are not interchangeable with plain SHA-256 lists of addresses.
_HASH_PREFIX = b"ervaringswijzer-opt-out\x00"


def address_hash(email: str) -> str:
    """The hash under which an address is remembered after opting out."""
    return hashlib.sha256(_HASH_PREFIX + email.strip().lower().encode("utf-8")).hexdigest()


def opted_out(session: Session, emails: Iterable[str | None]) -> set[str]:
    """Which of `emails` opted out: the one check the import, the invitations and the outbox
    make before an address is used (one query for a whole batch; None is skipped)."""
    hashes = {email: address_hash(email) for email in emails if email}
    if not hashes:
        return set()
    listed = set(
        session.scalars(
            select(MailSuppression.address_hash).where(
                MailSuppression.address_hash.in_(set(hashes.values()))
            )
        )
    )
    return {email for email, digest in hashes.items() if digest in listed}


def is_suppressed(session: Session, email: str) -> bool:
    """Whether `email` opted out."""
    return bool(opted_out(session, [email]))


def opt_out(session: Session, invitation: Invitation, now: datetime) -> None:
    """Stop all further mail to the invitation's address; safe to repeat."""
    email = invitation.email
    if email is None:  # already purged: nothing can be sent to it any more
        return
    if not is_suppressed(session, email):
        session.add(MailSuppression(address_hash=address_hash(email), created_at=now))
        try:
            session.flush()
        except IntegrityError:  # a concurrent confirmation of the same address won the race
            session.rollback()
    same_address = select(Invitation.id).where(Invitation.email == email)
    session.execute(
        update(Invitation)
        .where(
            Invitation.email == email,
            Invitation.opted_out_at.is_(None),
            Invitation.responded_at.is_(None),
        )
        .values(opted_out_at=now)
        .execution_options(synchronize_session=False)
    )
    cancelled = rows_affected(
        session,
        update(OutboxMessage)
        .where(
            OutboxMessage.invitation_id.in_(same_address),
            OutboxMessage.status == MessageStatus.PENDING,
        )
        .values(status=MessageStatus.CANCELLED, lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False),
    )
    session.commit()
    log.info("opt-out confirmed; %d pending message(s) cancelled", cancelled)
