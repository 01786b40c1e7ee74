"""Admin pages: episode upload, outbox and sending, staff accounts, the audit log.

The same services as the CLI do the work (import_episodes, send_once, create_user); these views
only parse the form, call one service and show the outcome. Imports and sends are audited here;
account changes are audited by their operations (survey.accounts.users), as on the command line.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse
from wtforms.fields.choices import SelectChoice

from survey.accounts import audit
from survey.accounts.users import AccountError, create_user
from survey.accounts.users import update_user as update_user_account
from survey.db import get_session
from survey.enums import LinkPurpose
from survey.episodes.importing import ImportRejected, import_episodes
from survey.mail.account_links import LinkNotSent, mail_new_link
from survey.mail.worker import send_once
from survey.models import AuditEvent, Invitation, OutboxMessage, StaffUser, utcnow
from survey.region.operations import RegionError, municipalities, providers
from survey.staff import admin_bp
from survey.staff.forms import ROLE_LABELS, ButtonForm, NewUserForm, UploadForm, UserActionForm

AUDIT_PAGE_SIZE = 50
ACCOUNT_MESSAGES = {
    "email": _l("This is not a valid email address."),
    "exists": _l("There already is an account with this email address."),
    "role": _l("Choose one of the roles."),
    "municipality": _l("Choose one of the municipalities."),
    "scope_role": _l("A municipality's account can only be a viewer or a quality account."),
    "provider": _l("Choose one of the providers."),
    "two_scopes": _l("Choose a municipality or a provider, not both."),
}


@admin_bp.route("/import", methods=["GET", "POST"])
def import_episodes_page() -> str | tuple[str, int]:
    """Upload an episode CSV: all or nothing, with line-numbered errors."""
    form = UploadForm()
    db = get_session()
    known = providers(db)
    form.provider.choices = [SelectChoice("", ""), *(SelectChoice(p.slug, p.name) for p in known)]
    result = rejected = None
    if form.validate_on_submit():
        upload = form.file.data
        try:
            result = import_episodes(db, upload.stream, provider=form.provider.data or None)
        except RegionError:
            form.provider.errors = [_("Choose the care provider this file comes from.")]
        except ImportRejected as refused:
            rejected = refused
            audit.record(db, "import refused", object_type="file", detail=refused.summary())
        else:
            audit.record(
                db,
                "import",
                object_type="file",
                detail=f"{result.rows} rows, {result.episodes_new} new episodes",
            )
    status = 400 if (form.errors or rejected) else 200
    return render_template(
        "admin/import.html",
        form=form,
        result=result,
        rejected=rejected,
        several_providers=len(known) > 1,
    ), status


@admin_bp.route("/outbox")
def outbox() -> str:
    """Sending status: messages per kind and status, invitations per state."""
    db = get_session()
    messages = db.execute(
        select(OutboxMessage.kind, OutboxMessage.status, func.count())
        .group_by(OutboxMessage.kind, OutboxMessage.status)
        .order_by(OutboxMessage.kind, OutboxMessage.status)
    ).all()
    waiting = db.scalar(
        select(func.count(Invitation.id)).where(
            Invitation.invited_at.is_(None), Invitation.email.is_not(None)
        )
    )
    return render_template(
        "admin/outbox.html", messages=messages, waiting=waiting, send_form=ButtonForm()
    )


@admin_bp.route("/send", methods=["POST"])
def send() -> WerkzeugResponse:
    """Start one sending pass now (the same as `ervaringswijzer send`)."""
    form = ButtonForm()
    if form.validate_on_submit():
        db = get_session()
        result = send_once(db, current_app.config, date.today())
        audit.record(
            db,
            "send",
            detail=f"{result.invitations.created} queued, "
            f"{result.delivery.delivered + result.delivery.reminders} delivered",
        )
        flash(
            _(
                "Sending done: %(queued)s invitations queued, %(sent)s messages delivered.",
                queued=result.invitations.created,
                sent=result.delivery.delivered + result.delivery.reminders,
            )
        )
    return redirect(url_for("admin.outbox"))


def recent_wrong_codes(db: Session, now: datetime) -> dict[int, int]:
    """Wrong second-factor codes per account over the last 24 hours (from the audit log): a
    password that is known to someone else shows here before anything else does."""
    rows = db.execute(
        select(AuditEvent.actor_id, func.count())
        .where(
            AuditEvent.action == "sign-in failed",
            AuditEvent.detail.in_(("wrong code", "wrong passkey")),
            AuditEvent.at >= now - timedelta(hours=24),
            AuditEvent.actor_id.is_not(None),
        )
        .group_by(AuditEvent.actor_id)
    )
    return {actor: count for actor, count in rows if actor is not None}


def _send_invitation(user: StaffUser) -> None:
    """Mail `user` a new invitation link and say how it went (with single sign-on only, the
    colleague signs in through the organisation: no link)."""
    if not current_app.config["PASSWORD_LOGIN"]:
        flash(_("%(email)s signs in with “Sign in with your organisation”.", email=user.email))
        return
    try:
        mail_new_link(get_session(), user, LinkPurpose.INVITATION, utcnow())
    except LinkNotSent:
        flash(
            _(
                "The invitation for %(email)s could not be sent: the mail server did not accept "
                "it. Try again later with “Send invitation again”.",
                email=user.email,
            )
        )
    else:
        flash(_("Invitation sent to %(email)s; the link works for 72 hours.", email=user.email))


@admin_bp.route("/users", methods=["GET", "POST"])
def users() -> str | tuple[str, int] | WerkzeugResponse:
    """Staff accounts: list and create."""
    db = get_session()
    form = NewUserForm()
    form.role.choices = [(role, str(label)) for role, label in ROLE_LABELS.items()]
    form.municipality.choices = [
        SelectChoice("", _("The whole region")),
        *(SelectChoice(m.name, m.name) for m in municipalities(db)),
    ]
    form.provider.choices = [
        SelectChoice("", _("Every provider")),
        *(SelectChoice(p.slug, p.name) for p in providers(db)),
    ]
    if form.validate_on_submit():
        try:
            user = create_user(
                db,
                form.email.data,
                form.role.data,
                None,
                municipality=form.municipality.data or None,
                provider=form.provider.data or None,
            )
            db.commit()
        except AccountError as refused:
            message = str(ACCOUNT_MESSAGES.get(refused.code, _l("Not possible.")))
            if refused.code in {"municipality", "scope_role"}:
                form.municipality.errors = [message]
            elif refused.code in {"provider", "two_scopes"}:
                form.provider.errors = [message]
            else:
                form.email.errors = [message]
        else:
            flash(_("Account created for %(email)s.", email=user.email))
            _send_invitation(user)
            return redirect(url_for("admin.users"))
    accounts = db.scalars(select(StaffUser).order_by(StaffUser.email)).all()
    return render_template(
        "admin/users.html",
        form=form,
        accounts=accounts,
        wrong_codes=recent_wrong_codes(db, utcnow()),
        roles=ROLE_LABELS,
        action_form=UserActionForm(),
    ), (400 if form.errors else 200)


@admin_bp.route("/users/<int:user_id>", methods=["POST"])
def update_user(user_id: int) -> WerkzeugResponse:
    """Change a role, (de)activate an account or reset its second factor."""
    db = get_session()
    user = db.get(StaffUser, user_id)
    form = UserActionForm()
    if user is None or not form.validate_on_submit():
        flash(_("That did not work. Please try again."))
        return redirect(url_for("admin.users"))
    if form.action.data == "invite":
        if user.active and user.totp_secret is None:
            _send_invitation(user)
        else:
            flash(_("That did not work. Please try again."))
        return redirect(url_for("admin.users"))
    try:
        update_user_account(db, user, form.action.data, by=current_user.user, role=form.role.data)
        db.commit()
    except AccountError as refused:
        if refused.code == "self":
            flash(_("You cannot change your own role or deactivate yourself."))
        elif refused.code == "scope_role":
            flash(str(ACCOUNT_MESSAGES["scope_role"]))
        else:
            flash(_("That did not work. Please try again."))
        return redirect(url_for("admin.users"))
    flash(_("Account of %(email)s updated.", email=user.email))
    return redirect(url_for("admin.users"))


@admin_bp.route("/audit")
def audit_log() -> str:
    """The audit log, newest first, 50 per page; a provider's admin reads what its own staff
    did (events of the installation and of other providers' staff are not theirs)."""
    page = max(request.args.get("page", 1, type=int), 1)
    query = select(AuditEvent)
    if current_user.provider:
        own_staff = select(StaffUser.id).where(
            StaffUser.provider_id == current_user.user.provider_id
        )
        query = query.where(AuditEvent.actor_id.in_(own_staff))
    events = (
        get_session()
        .scalars(
            query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .offset((page - 1) * AUDIT_PAGE_SIZE)
            .limit(AUDIT_PAGE_SIZE + 1)
        )
        .all()
    )
    return render_template(
        "admin/audit.html",
        events=events[:AUDIT_PAGE_SIZE],
        page=page,
        has_next=len(events) > AUDIT_PAGE_SIZE,
    )
