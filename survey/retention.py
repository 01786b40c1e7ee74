"""Retention (`ervaringswijzer purge`, DESIGN §3): erase contact data once it is no longer needed.

PURGE_AFTER_DAYS after an invitation was answered, expired, bounced or opted out — or, for one
that was never sent, after it became too old to send — its email address and token hash are
erased, and so are the address and bodies of its outbox messages — and, where mail went to `.eml`
files (no SMTP_HOST), those files in MAIL_FILE_DIR. The invitation's dates stay, so
response-rate figures are the same before and after. Every statement only touches rows that still
hold data, so running purge twice, or twice at once, is harmless.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, case, or_, select, update
from sqlalchemy.orm import Session

from survey.mime import eml_file_name
from survey.models import Episode, Invitation, OutboxMessage

log = logging.getLogger(__name__)


@dataclass
class PurgeResult:
    """What one purge erased."""

    invitations: int = 0
    messages: int = 0
    files: int = 0

    def summary(self) -> str:
        """For operators."""
        return (
            f"Invitations erased (address and token): {self.invitations}\n"
            f"Outbox messages erased (address and body): {self.messages}\n"
            f"Mail files erased (.eml): {self.files}"
        )


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
    """Erase addresses, tokens and message bodies that are past their retention period."""
    cutoff = now - timedelta(days=config["PURGE_AFTER_DAYS"])
    done = select(Invitation.id).where(finished_before(cutoff, config["INVITE_MAX_AGE_DAYS"]))
    written = session.scalars(
        select(OutboxMessage.message_id).where(
            OutboxMessage.invitation_id.in_(done), OutboxMessage.recipient.is_not(None)
        )
    ).all()
    messages = session.execute(
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
        .execution_options(synchronize_session=False)
    ).rowcount
    invitations = session.execute(
        update(Invitation)
        .where(
            finished_before(cutoff, config["INVITE_MAX_AGE_DAYS"]),
            or_(Invitation.email.is_not(None), Invitation.token_hash.is_not(None)),
        )
        .values(email=None, token_hash=None, purged_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    files = erase_mail_files(config, written)
    result = PurgeResult(invitations=invitations, messages=messages, files=files)
    log.info(
        "purge: %d invitation(s), %d message(s), %d mail file(s) erased",
        invitations,
        messages,
        files,
    )
    return result


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


# What the file transport writes (survey.mime.eml_file_name) and its unfinished writes.
MAIL_FILE_PATTERNS = ("*_at_*.eml", "*_at_*.eml.part")


def _cancel_if_pending() -> Any:
    return case((OutboxMessage.status == "pending", "cancelled"), else_=OutboxMessage.status)
