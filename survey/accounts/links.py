"""One-time account links by email: an invitation, a password reset, setting up a second factor.

A link carries a random token; the database keeps only its SHA-256, so a dump gives no working
link. A link works once (claimed with a conditional UPDATE, so two tabs racing cannot both use
it), for a limited time, and only for an active account. Issuing a new link of a kind ends the
earlier unused ones of that kind for the account, and switching an account off ends all of
them (they then read "expired").

* invitation (72 hours): the new colleague chooses a password, then sets up the second factor;
  the admin who made the account never knows the password.
* reset (1 hour): a forgotten password; using it ends every session of the account.
* second factor (24 hours): after an admin reset the second factor, or for an account made with
  `--password-stdin`, the password alone does not let anyone register an authenticator: the link
  goes to the account's own address, and set-up needs the link *and* the password.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from survey.enums import LinkPurpose
from survey.models import AccountLink, StaffUser

log = logging.getLogger(__name__)

LIFETIMES = {
    LinkPurpose.INVITATION: timedelta(hours=72),
    LinkPurpose.RESET: timedelta(hours=1),
    LinkPurpose.SECOND_FACTOR: timedelta(hours=24),
}
# A new second-factor link is mailed at most this often (a password typed again and again must
# not flood the owner's mailbox).
RESEND_AFTER = timedelta(minutes=10)


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii", "replace")).hexdigest()


def _open(now: datetime) -> ColumnElement[bool]:
    """A link that is neither used nor expired at `now`."""
    return and_(AccountLink.used_at.is_(None), AccountLink.expires_at > now)


def issue_link(session: Session, user: StaffUser, purpose: LinkPurpose, now: datetime) -> str:
    """A new link token for `user` (the raw token: only for the email); earlier unused links of
    the same kind stop working. The caller commits."""
    expire_links(session, user, now, purpose)
    raw = secrets.token_urlsafe(32)
    session.add(
        AccountLink(
            user_id=user.id,
            purpose=purpose.value,
            token_hash=_hash(raw),
            created_at=now,
            expires_at=now + LIFETIMES[purpose],
        )
    )
    log.info("account link (%s) issued for staff user %d", purpose.value, user.id)
    return raw


def expire_links(
    session: Session, user: StaffUser, now: datetime, purpose: LinkPurpose | None = None
) -> None:
    """End the account's unused links (of one kind, or all): opened later, they say "expired"
    (a newer link replaced them, or the account was switched off and on again)."""
    query = update(AccountLink).where(AccountLink.user_id == user.id, _open(now))
    if purpose is not None:
        query = query.where(AccountLink.purpose == purpose.value)
    session.execute(query.values(expires_at=now).execution_options(synchronize_session=False))


def recently_issued(session: Session, user: StaffUser, purpose: LinkPurpose, now: datetime) -> bool:
    """Whether an unused link of this kind went out less than RESEND_AFTER ago."""
    found = session.scalar(
        select(AccountLink.id).where(
            AccountLink.user_id == user.id,
            AccountLink.purpose == purpose.value,
            _open(now),
            AccountLink.created_at > now - RESEND_AFTER,
        )
    )
    return found is not None


@dataclass(frozen=True)
class LinkCheck:
    """What a link is worth now: its row when usable, otherwise why not."""

    link: AccountLink | None
    refusal: str | None  # "unknown", "used", "expired", "deactivated"


def check_link(session: Session, raw: str, now: datetime) -> LinkCheck:
    """Look a link token up without using it."""
    link = session.scalar(select(AccountLink).where(AccountLink.token_hash == _hash(raw)))
    if link is None:
        return LinkCheck(None, "unknown")
    if link.used_at is not None:
        return LinkCheck(None, "used")
    if not link.user.active:
        return LinkCheck(None, "deactivated")
    if link.expires_at <= now:
        return LinkCheck(None, "expired")
    return LinkCheck(link, None)


def usable_link(session: Session, link_id: object, now: datetime) -> AccountLink | None:
    """The link a session holds (by id), if it is still unused, unexpired and its account
    active; None otherwise."""
    if not isinstance(link_id, int):
        return None
    link = session.scalar(select(AccountLink).where(AccountLink.id == link_id, _open(now)))
    return link if link is not None and link.user.active else None


def use_link(session: Session, link: AccountLink, now: datetime) -> bool:
    """Claim the link: True for exactly one caller, however many race. The caller commits."""
    claimed = session.execute(
        update(AccountLink)
        .where(AccountLink.id == link.id, AccountLink.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1  # type: ignore[attr-defined]
