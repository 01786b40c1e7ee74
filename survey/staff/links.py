"""One-time account links in the browser: an invitation, a forgotten password, a new second
factor (survey.accounts.links).

`/staff/link/<token>` only checks the link and moves it into the session, then redirects: the
token leaves the address bar and the history at once, and access logs show `[token]`. The
page that follows claims the link when it is used (a conditional UPDATE: once, even for two
tabs). A refused link gets a page that says why: unknown, used, expired, or a deactivated
account.
"""

from __future__ import annotations

import logging

from flask import abort, current_app, flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from survey.accounts import audit
from survey.accounts.links import check_link, recently_issued, usable_link, use_link
from survey.accounts.passwords import WeakPassword
from survey.accounts.users import AccountError, normalise_email, set_password
from survey.db import get_session
from survey.enums import LinkPurpose
from survey.mail.account_links import LinkNotSent, mail_new_link
from survey.models import StaffUser, utcnow
from survey.staff import bp
from survey.staff.forms import ChoosePasswordForm, ForgotPasswordForm
from survey.staff.views import begin_second_step, password_message
from survey.web.limits import RESET_PER_IP, UNKNOWN_TOKENS_PER_IP, limiter

log = logging.getLogger(__name__)

REFUSALS = {
    "unknown": (
        404,
        _l("This link does not work"),
        _l("Check that you opened the whole link from the email."),
    ),
    "used": (
        410,
        _l("This link has been used already"),
        _l("A link works only once. Ask for a new one if you still need it."),
    ),
    "expired": (
        410,
        _l("This link has expired"),
        _l(
            "Ask for a new link: for a password, on the sign-in page; for an invitation, "
            "from your administrator."
        ),
    ),
    "deactivated": (
        403,
        _l("This account is switched off"),
        _l("Ask your administrator if you should still have access."),
    ),
}


def refused(reason: str) -> tuple[str, int]:
    """The page of a link that cannot be used, with its status."""
    status, title, advice = REFUSALS[reason]
    return render_template("staff/link_refused.html", title=title, advice=advice), status


@bp.route("/link/<token>")
@limiter.limit(UNKNOWN_TOKENS_PER_IP, deduct_when=lambda response: response.status_code != 302)
def open_link(token: str) -> WerkzeugResponse | tuple[str, int]:
    """Check a mailed link; a good one moves into the session and the browser moves on."""
    db = get_session()
    check = check_link(db, token[:200], utcnow())
    if check.link is None:
        audit.record(db, "account link refused", detail=check.refusal)
        return refused(check.refusal or "unknown")
    link = check.link
    session.clear()
    session["link_id"] = link.id
    if link.purpose == LinkPurpose.SECOND_FACTOR:
        flash(_("Sign in again to set up your authenticator app."))
        return redirect(url_for("staff.login"))
    return redirect(url_for("staff.choose_password"))


@bp.route("/account/password", methods=["GET", "POST"])
def choose_password() -> str | tuple[str, int] | WerkzeugResponse:
    """Choose a password with an invitation or reset link; then the second factor (an
    invitation, or an account without one) or the sign-in page."""
    if not current_app.config["PASSWORD_LOGIN"]:
        abort(404)  # single sign-on only: no passwords to choose
    db = get_session()
    link = usable_link(db, session.get("link_id"), utcnow())
    if link is None or link.purpose == LinkPurpose.SECOND_FACTOR:
        return refused("expired" if session.get("link_id") else "unknown")
    user = link.user
    form = ChoosePasswordForm()
    if form.validate_on_submit():
        try:
            set_password(db, user, form.new.data)
        except WeakPassword as weak:
            form.new.errors = [password_message(str(weak))]
        else:
            if not use_link(db, link, utcnow()):
                db.rollback()
                return refused("used")
            invitation = link.purpose == LinkPurpose.INVITATION
            action = "invitation accepted" if invitation else "password reset"
            audit.record(db, action, actor=user, object_type="user", object_id=user.id)
            session.clear()
            if current_app.config["REQUIRE_MFA"] and user.totp_secret is None:
                # The link proved the address and the password was just chosen: both factors
                # of setting up an authenticator.
                return begin_second_step(user, may_enrol=True)
            flash(_("Your password is set. Sign in with it."))
            return redirect(url_for("staff.login"))
    context = {
        "form": form,
        "invitation": link.purpose == LinkPurpose.INVITATION,
        "email": user.email,
    }
    return render_template("staff/choose_password.html", **context), (400 if form.errors else 200)


@bp.route("/forgot", methods=["GET", "POST"])
@limiter.limit(RESET_PER_IP, methods=["POST"])
def forgot_password() -> str | tuple[str, int]:
    """A reset link by email: the same answer whether the address has an account or not.

    Per address there is no limit that could answer differently (or lock the owner out): a new
    link goes out at most every RESEND_AFTER, whoever asks; per IP the requests are limited."""
    if not current_app.config["PASSWORD_LOGIN"]:
        abort(404)  # single sign-on only: the organisation resets passwords
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        db = get_session()
        try:
            email = normalise_email(form.email.data)
        except AccountError:
            email = None
        user = db.scalar(select(StaffUser).where(StaffUser.email == email)) if email else None
        if user is None or not user.active:
            audit.record(db, "password reset requested", detail="no active account")
        elif recently_issued(db, user, LinkPurpose.RESET, utcnow()):
            audit.record(db, "password reset requested", actor=user, detail="link sent recently")
        else:
            try:
                mail_new_link(db, user, LinkPurpose.RESET, utcnow())
            except LinkNotSent as failed:
                log.error("reset link for staff user %d not sent: %s", user.id, failed)
        return render_template("staff/forgot_sent.html")
    return render_template("staff/forgot.html", form=form), (400 if form.errors else 200)
