"""Invitations: personal tokens, which invitations are due, and turning them into outbox messages.

A token is 256 bits from `secrets`, shown once in the email and stored only as its SHA-256 hex
digest. It is made at the moment the invitation message is written to the outbox, in the same
transaction that marks the invitation as invited (DESIGN §6).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session, joinedload

from survey.invitations.optout import opted_out
from survey.models import Episode, Invitation, OutboxMessage, utcnow

log = logging.getLogger(__name__)

# token_urlsafe(32) gives 43 characters of [A-Za-z0-9_-]; anything else is not one of ours.
TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{43}$")
BATCH_SIZE = 500
# Queueing at least this many invitations refreshes the outbox's planner statistics.
ANALYZE_AFTER = 1000


def new_token() -> str:
    """A fresh survey token with 256 bits of randomness."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def survey_url(base_url: str, token: str) -> str:
    """The personal survey link; built from configuration, never from a request's Host header."""
    return f"{base_url.rstrip('/')}/s/{token}"


def opt_out_url(base_url: str, token: str) -> str:
    """The opt-out link that goes with a survey link (a confirm page; a GET changes nothing)."""
    return f"{base_url.rstrip('/')}/afmelden/{token}"


def find_by_token(session: Session, token: str) -> Invitation | None:
    """The invitation a token belongs to, or None for anything that is not a live token."""
    if not TOKEN_PATTERN.match(token):
        return None
    return session.scalars(
        select(Invitation)
        .options(joinedload(Invitation.episode))
        .where(Invitation.token_hash == hash_token(token))
    ).one_or_none()


def current_time() -> datetime:
    """Now, for web requests; tests that move the calendar set `app.config["CLOCK"]`."""
    override = current_app.config.get("CLOCK")
    return override() if override is not None else utcnow()


def clock(today: date | None) -> datetime:
    """`now`, or the current time of day on `today` when an operator moved the clock."""
    now = utcnow()
    return now if today is None else datetime.combine(today, now.time())


def is_expired(invitation: Invitation, now: datetime) -> bool:
    """Whether the invitation's link no longer accepts answers."""
    return invitation.expires_at is None or invitation.expires_at <= now


def due_filter(today: date, max_age_days: int) -> list[Any]:
    """SQL conditions for invitations whose first message should go out on `today`."""
    return [
        Invitation.invited_at.is_(None),
        Invitation.email.is_not(None),
        Invitation.opted_out_at.is_(None),
        Invitation.bounced_at.is_(None),
        Episode.end_date <= today,
        Episode.end_date >= today - timedelta(days=max_age_days),
    ]


def mark_opened(session: Session, invitation: Invitation, now: datetime) -> None:
    """Record the first time a link was opened (the funnel's "opened" step)."""
    if invitation.opened_at is not None:
        return
    session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.opened_at.is_(None))
        .values(opened_at=now)
    )
    session.commit()


def count_too_old(session: Session, today: date, max_age_days: int) -> int:
    """How many never-invited invitations ended too long ago to be sent."""
    return session.execute(
        select(func.count(Invitation.id))
        .join(Invitation.episode)
        .where(
            Invitation.invited_at.is_(None),
            Episode.end_date < today - timedelta(days=max_age_days),
        )
    ).scalar_one()


@dataclass
class InviteResult:
    """What `create_due_invitation_messages` did."""

    created: int = 0
    too_old: int = 0
    suppressed: int = 0


def create_due_invitation_messages(
    session: Session,
    config: Mapping[str, Any],
    today: date,
    compose: Callable[[Invitation, str, datetime], Any],
) -> InviteResult:
    """Give every due invitation a token and an outbox message; commit per batch.

    `compose(invitation, token, now)` adds the outbox messages to the session (see
    `survey.mail.messages.queue_invitation_messages`);
    it runs in the same transaction as the state change.
    """
    now = clock(today)
    expire_after = timedelta(days=config["EXPIRE_AFTER_DAYS"])
    result = InviteResult(too_old=count_too_old(session, today, config["INVITE_MAX_AGE_DAYS"]))
    query = (
        select(Invitation)
        .join(Invitation.episode)
        .options(joinedload(Invitation.episode))
        .where(*due_filter(today, config["INVITE_MAX_AGE_DAYS"]))
        .order_by(Invitation.id)
        .limit(BATCH_SIZE)
    )
    while batch := session.scalars(query).all():
        suppressed = opted_out(session, [i.email for i in batch])
        for invitation in batch:
            if invitation.email in suppressed:
                # Opted out after the import: never mail, and forget the address now.
                invitation.opted_out_at, invitation.email = now, None
                result.suppressed += 1
                continue
            token = new_token()
            invitation.token_hash = hash_token(token)
            invitation.invited_at = now
            invitation.expires_at = now + expire_after
            compose(invitation, token, now)
        session.commit()
        result.created += len(batch)
    result.created -= result.suppressed
    if result.created >= ANALYZE_AFTER and session.get_bind().dialect.name == "postgresql":
        # So many new messages reshape the outbox before autovacuum takes its next look, and
        # the delivery right after would be planned on the old statistics: a sort of every
        # due message per claimed batch (100 ms at 20,000) instead of a walk along the
        # claim's index (0.5 ms). Without the table's ownership this is a warning, no error.
        session.execute(text(f"ANALYZE {OutboxMessage.__tablename__}"))
        session.commit()
    log.info(
        "invitations queued: %d (too old: %d, opted out: %d)",
        result.created,
        result.too_old,
        result.suppressed,
    )
    return result
