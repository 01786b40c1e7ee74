"""The audit log: who did what, when, to which object, from which IP (DESIGN §9).

`record` is called by the services and views that sign in, import, send, export, decide on
quotes, show free text or change users. Its arguments are chosen by the caller from a fixed
vocabulary; it never receives tokens, passwords or free text.
"""

from __future__ import annotations

import logging

from flask import has_request_context, request
from flask_login import current_user
from sqlalchemy.orm import Session

from survey.models import AuditEvent, StaffUser, utcnow

log = logging.getLogger(__name__)


def record(
    session: Session,
    action: str,
    *,
    object_type: str | None = None,
    object_id: object = None,
    actor: StaffUser | None = None,
    actor_email: str | None = None,
    detail: str | None = None,
    commit: bool = True,
) -> None:
    """Write one audit event; the actor defaults to the signed-in staff member."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user.user
    session.add(
        AuditEvent(
            at=utcnow(),
            actor_id=actor.id if actor else None,
            actor_email=actor.email if actor else actor_email,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id)[:64],
            ip=request.remote_addr if has_request_context() else None,
            detail=detail[:500] if detail else None,
        )
    )
    if commit:
        session.commit()
    log.info("audit: %s %s %s", action, object_type or "", object_id or "")
