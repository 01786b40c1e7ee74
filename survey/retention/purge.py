"""Retention (`ervaringswijzer purge`, DESIGN §3): erase contact data once it is no longer needed.

PURGE_AFTER_DAYS after an invitation was answered, expired, bounced or opted out — or, for one
that was never sent, after it became too old to send — its email address and token hash are
erased, and so are the address and bodies of its outbox messages — and, where mail went to `.eml`
files (no SMTP_HOST), those files in MAIL_FILE_DIR. The invitation's dates stay, so
response-rate figures are the same before and after. Every statement only touches rows that still
hold data, so running purge twice, or twice at once, is harmless.

Once nothing of an episode can be mailed any more, the episode itself is coarsened to what the
figures need (`coarsen_episodes`). Answers are erased RESPONSE_RETENTION_YEARS after their month
of the end of care, whole months at a time, and audit events AUDIT_RETENTION_YEARS after they
happened. Last, the recent responses are mixed again (survey.answers.mixing).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, or_, select, update
from sqlalchemy.orm import Session

from survey.answers.mixing import mix_responses
from survey.db import rows_affected, table_of
from survey.enums import MessageStatus
from survey.mail.mime import eml_file_name
from survey.models import AuditEvent, Comment, Episode, Invitation, OutboxMessage, Response

log = logging.getLogger(__name__)


@dataclass
class PurgeResult:
    """What one purge erased, coarsened and mixed."""

    invitations: int = 0
    messages: int = 0
    files: int = 0
    episodes: int = 0
    responses: int = 0
    comments: int = 0
    audit_events: int = 0
    mixed: int = 0
    # The first end-of-care month whose answers are kept, and the oldest audit moment kept.
    responses_kept_from: date | None = None
    audit_kept_from: datetime | None = None

    def summary(self) -> str:
        """For operators."""
        responses_from = f"{self.responses_kept_from:%Y-%m}" if self.responses_kept_from else "-"
        audit_from = f"{self.audit_kept_from:%Y-%m-%d}" if self.audit_kept_from else "-"
        return (
            f"Invitations erased (address and token): {self.invitations}\n"
            f"Outbox messages erased (address and body): {self.messages}\n"
            f"Mail files erased (.eml): {self.files}\n"
            f"Episodes coarsened (month only, no age, keyed id): {self.episodes}\n"
            f"Responses erased (care ended before {responses_from}): {self.responses}\n"
            f"Comments erased with them: {self.comments}\n"
            f"Audit events erased (before {audit_from}): {self.audit_events}\n"
            f"Responses mixed (this month and last): {self.mixed}"
        )


# A purged episode's external id: recognisable, and within Episode.external_id's 64 characters
# (57 hex digits of the HMAC are 228 bits, far beyond any chance of two episodes colliding).
PURGED_ID_PREFIX = "purged:"
_PURGED_ID_DOMAIN = b"ervaringswijzer-episode\x00"


def purged_external_id(external_id: str, secret_key: str | bytes) -> str:
    """The keyed hash that replaces a purged episode's external id.

    The import computes the same hash for every row (survey.episodes.importing), so re-importing an
    export that still lists the episode recognises it and invites nobody twice, while the
    database no longer holds an id that the care-registration system could look up. Keyed
    (HMAC-SHA256 with SECRET_KEY) because external ids are short and guessable: a plain hash
    could be reversed by hashing every candidate. Rotating SECRET_KEY loses that recognition
    for episodes purged before.
    """
    key = secret_key if isinstance(secret_key, bytes) else str(secret_key).encode("utf-8")
    message = _PURGED_ID_DOMAIN + external_id.encode("utf-8")
    digest = hmac.new(key, message, hashlib.sha256).hexdigest()
    return PURGED_ID_PREFIX + digest[: 64 - len(PURGED_ID_PREFIX)]


def finished_before(cutoff: datetime, max_age_days: int) -> Any:
    """SQL condition: the invitation's contact data was last needed before `cutoff`."""
    never_sent_cutoff = (cutoff - timedelta(days=max_age_days)).date()
    return or_(
        Invitation.responded_at < cutoff,
        Invitation.expires_at < cutoff,
        Invitation.bounced_at < cutoff,
        Invitation.opted_out_at < cutoff,
        and_(
            Invitation.invited_at.is_(None),
            Invitation.episode_id.in_(
                select(Episode.id).where(Episode.end_date < never_sent_cutoff)
            ),
        ),
    )


def purge(session: Session, config: Mapping[str, Any], now: datetime) -> PurgeResult:
    """Erase what is past its retention period and mix the recent responses; see the module.

    `now` is the operator's `--today` (at the current time of day): every period is counted
    from it. Contact data, coarsening and the erasing of answers and audit events commit
    together; the mail files and the mix follow.
    """
    cutoff = now - timedelta(days=config["PURGE_AFTER_DAYS"])
    done = select(Invitation.id).where(finished_before(cutoff, config["INVITE_MAX_AGE_DAYS"]))
    written = session.scalars(
        select(OutboxMessage.message_id).where(
            OutboxMessage.invitation_id.in_(done), OutboxMessage.recipient.is_not(None)
        )
    ).all()
    messages = rows_affected(
        session,
        update(OutboxMessage)
        .where(
            OutboxMessage.invitation_id.in_(done),
            or_(
                OutboxMessage.recipient.is_not(None),
                OutboxMessage.body_text.is_not(None),
                OutboxMessage.body_html.is_not(None),
            ),
        )
        .values(
            recipient=None,
            body_text=None,
            body_html=None,
            # A message still waiting can no longer be sent: it has no address.
            status=_cancel_if_pending(),
            lease_owner=None,
            lease_expires_at=None,
        )
        .execution_options(synchronize_session=False),
    )
    invitations = rows_affected(
        session,
        update(Invitation)
        .where(
            finished_before(cutoff, config["INVITE_MAX_AGE_DAYS"]),
            or_(Invitation.email.is_not(None), Invitation.token_hash.is_not(None)),
        )
        .values(email=None, token_hash=None, purged_at=now)
        .execution_options(synchronize_session=False),
    )
    result = PurgeResult(invitations=invitations, messages=messages)
    result.episodes = coarsen_episodes(session, config, now)
    erase_old_answers(session, config, now.date(), result)
    erase_old_audit_events(session, config, now, result)
    session.commit()
    result.files = erase_mail_files(config, written)
    result.mixed = mix_responses(session, now.date())
    log.info(
        "purge: %d invitation(s), %d message(s), %d mail file(s) erased; %d episode(s) "
        "coarsened; %d response(s), %d comment(s), %d audit event(s) erased; %d mixed",
        result.invitations,
        result.messages,
        result.files,
        result.episodes,
        result.responses,
        result.comments,
        result.audit_events,
        result.mixed,
    )
    return result


_EPISODE = table_of(Episode)
_COARSEN = (
    update(_EPISODE)
    .where(
        _EPISODE.c.id == bindparam("episode"),
        # Only once: a concurrent purge that got there first leaves nothing to do here.
        _EPISODE.c.external_id.not_like(f"{PURGED_ID_PREFIX}%"),
    )
    .values(external_id=bindparam("hashed_id"), end_date=bindparam("end_month"), youth_age=None)
)


def coarsen_episodes(session: Session, config: Mapping[str, Any], now: datetime) -> int:
    """Reduce the episodes nobody can be invited for any more to what the figures use.

    An episode is done when every invitation it has was purged — or, with none, when it ended
    longer ago than INVITE_MAX_AGE_DAYS + PURGE_AFTER_DAYS (a re-import could still have added
    one before). Its end date becomes the first day of its month (the cells and reports count
    per month, so no figure moves), its youth age goes, and its external id becomes a keyed
    hash (`purged_external_id`). The episode row stays: the invitations' dates hang on it.
    Returns how many episodes changed; a coarsened episode is never touched again.
    """
    cutoff = now - timedelta(days=config["PURGE_AFTER_DAYS"])
    never_invited = (cutoff - timedelta(days=config["INVITE_MAX_AGE_DAYS"])).date()
    rows = session.execute(
        select(Episode.id, Episode.external_id, Episode.end_date)
        .where(
            Episode.external_id.not_like(f"{PURGED_ID_PREFIX}%"),
            Episode.id.not_in(select(Invitation.episode_id).where(_still_open(cutoff))),
            or_(
                Episode.id.in_(select(Invitation.episode_id)),
                Episode.end_date < never_invited,
            ),
        )
        .order_by(Episode.id)  # concurrent purges lock in the same order
    ).all()
    if not rows:
        return 0
    key = config["SECRET_KEY"]
    changes = [
        {
            "episode": episode_id,
            "hashed_id": purged_external_id(external_id, key),
            "end_month": end_date.replace(day=1),
        }
        for episode_id, external_id, end_date in rows
    ]
    return session.connection().execute(_COARSEN, changes).rowcount


def _still_open(cutoff: datetime) -> Any:
    """SQL condition: the invitation still holds contact data, or may yet be mailed.

    Purged invitations are done; so is one imported for an address that had opted out (it
    never had an address or a token, and purge, finding nothing to erase, never marks it)
    once its grace period is over. Written without NOT over NULLs on purpose.
    """
    return and_(
        Invitation.purged_at.is_(None),
        or_(
            Invitation.email.is_not(None),
            Invitation.token_hash.is_not(None),
            Invitation.opted_out_at.is_(None),
            Invitation.opted_out_at >= cutoff,
        ),
    )


def years_before(day: date, years: int) -> date:
    """The same day `years` years earlier (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def erase_old_answers(
    session: Session, config: Mapping[str, Any], today: date, result: PurgeResult
) -> None:
    """Erase the responses (answers, comments) of the end-of-care months past retention.

    Whole months only: a response goes when its end month began before the first day of the
    month RESPONSE_RETENTION_YEARS before today's month. A period is thus erased as a whole and
    every younger period keeps exactly its figures; the cell triggers take the marks out of
    the kept sums in the same transaction.
    """
    kept_from = years_before(today.replace(day=1), config["RESPONSE_RETENTION_YEARS"])
    result.responses_kept_from = kept_from
    old = select(Response.id).where(Response.end_month < kept_from)
    result.comments = rows_affected(
        session,
        delete(Comment)
        .where(Comment.response_id.in_(old))
        .execution_options(synchronize_session=False),
    )
    # Their answers go with them (ON DELETE CASCADE).
    result.responses = rows_affected(
        session,
        delete(Response)
        .where(Response.end_month < kept_from)
        .execution_options(synchronize_session=False),
    )


def erase_old_audit_events(
    session: Session, config: Mapping[str, Any], now: datetime, result: PurgeResult
) -> None:
    """Erase audit events older than AUDIT_RETENTION_YEARS (see survey.config for why five)."""
    kept_from = datetime.combine(
        years_before(now.date(), config["AUDIT_RETENTION_YEARS"]), now.time()
    )
    result.audit_kept_from = kept_from
    result.audit_events = rows_affected(
        session,
        delete(AuditEvent)
        .where(AuditEvent.at < kept_from)
        .execution_options(synchronize_session=False),
    )


def erase_mail_files(config: Mapping[str, Any], message_ids: Iterable[str]) -> int:
    """Erase the `.eml` files of purged messages from MAIL_FILE_DIR.

    Also erases any message file (the file transport's `<id>_at_<domain>.eml`, or a `.part` it
    left) older than EXPIRE_AFTER_DAYS + PURGE_AFTER_DAYS by the real clock: by then the
    invitation it was written for has expired and passed its grace period whatever happened, so
    files left from before this rule existed go too. Only regular files are touched; a file that
    cannot be erased is counted in the log and never stops the purge.
    """
    folder = Path(config["MAIL_FILE_DIR"])
    if not folder.is_dir():
        return 0
    targets = {folder / eml_file_name(message_id) for message_id in message_ids}
    days = config["EXPIRE_AFTER_DAYS"] + config["PURGE_AFTER_DAYS"]
    oldest_kept = time.time() - days * 86400  # not `now`: a moved clock must not empty the folder
    for pattern in MAIL_FILE_PATTERNS:
        for path in folder.glob(pattern):
            with contextlib.suppress(OSError):
                if path.lstat().st_mtime < oldest_kept:
                    targets.add(path)
    erased = failed = 0
    for path in targets:
        try:
            if path.is_symlink() or not path.is_file():
                continue
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError:
            failed += 1
            continue
        erased += 1
    if failed:
        log.warning("purge: %d mail file(s) in MAIL_FILE_DIR could not be erased", failed)
    return erased


# What the file transport writes (survey.mail.mime.eml_file_name) and its unfinished writes.
MAIL_FILE_PATTERNS = ("*_at_*.eml", "*_at_*.eml.part")


def _cancel_if_pending() -> Any:
    return case(
        (OutboxMessage.status == MessageStatus.PENDING, MessageStatus.CANCELLED.value),
        else_=OutboxMessage.status,
    )
