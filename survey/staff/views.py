"""Signing in and out, the second factor, the staff start page and changing a password."""

from __future__ import annotations

import base64
import io
import logging

import segno
from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_limiter import RequestLimit
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from survey.accounts import audit
from survey.accounts.links import recently_issued, usable_link, use_link
from survey.accounts.passkeys import passkeys_of
from survey.accounts.passwords import WeakPassword
from survey.accounts.secrets import SecretUnreadable
from survey.accounts.users import (
    AccountError,
    authenticate,
    change_password,
    claim_totp_code,
    confirm_totp,
    end_session,
    load_session,
    normalise_email,
    pending_totp_secret,
    start_session,
    totp_secret,
    totp_uri,
)
from survey.db import get_session
from survey.enums import LinkPurpose
from survey.mail.account_links import LinkNotSent, mail_new_link
from survey.models import StaffUser, utcnow
from survey.staff import SignedIn, bp
from survey.staff.forms import ButtonForm, CodeForm, PasswordChangeForm, SignInForm
from survey.web.limits import (
    MFA_PER_ACCOUNT,
    MFA_PER_IP,
    PASSWORD_CHANGE_PER_ACCOUNT,
    SIGN_IN_PER_ACCOUNT,
    SIGN_IN_PER_IP,
    account_key,
    limiter,
    pending_account_key,
    signed_in_key,
)

log = logging.getLogger(__name__)

PENDING_SECONDS = 300  # between a correct password and the code
PASSWORD_MESSAGES = {
    "too_short": _l("Use at least 12 characters."),
    "too_long": _l("Use at most 128 characters."),
    "too_common": _l("This password is too common. Choose another one."),
}


def password_message(code: str) -> str:
    """The translated explanation of a refused password."""
    return str(PASSWORD_MESSAGES.get(code, _l("This password cannot be used.")))


def _throttled_sign_in(limit: RequestLimit) -> None:
    known = _known_account_email()
    audit.record(get_session(), "sign-in throttled", actor_email=known, detail=str(limit.limit))


def _known_account_email() -> str | None:
    """The form's email if it belongs to a staff account (unknown input is never stored)."""
    try:
        email = normalise_email(request.form.get("email", ""))
    except AccountError:
        return None
    found = get_session().scalar(select(StaffUser.email).where(StaffUser.email == email))
    return found


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(SIGN_IN_PER_IP, methods=["POST"], on_breach=_throttled_sign_in)
@limiter.limit(
    SIGN_IN_PER_ACCOUNT,
    key_func=account_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 401,
    on_breach=_throttled_sign_in,
)
def login() -> str | tuple[str, int] | WerkzeugResponse:
    """Email and password; the same answer for an unknown email and a wrong password."""
    if current_user.is_authenticated:
        return redirect(url_for("staff.home"))
    if request.method == "POST" and not current_app.config["PASSWORD_LOGIN"]:
        abort(404)  # single sign-on only (PASSWORD_LOGIN=0)
    form = SignInForm()
    if form.validate_on_submit():
        db = get_session()
        user = authenticate(db, form.email.data, form.password.data)
        if user is None:
            audit.record(db, "sign-in failed", actor_email=_known_account_email())
            form.password.errors = [_("The email address or the password is not right.")]
            return render_template("staff/login.html", form=form), 401
        db.commit()
        if not current_app.config["REQUIRE_MFA"]:
            session.clear()
            return complete_sign_in(user)
        return second_step(user)
    return render_template("staff/login.html", form=form), (400 if form.errors else 200)


def second_step(user: StaffUser) -> WerkzeugResponse:
    """After the first factor (the password, or single sign-on without the organisation's
    MFA): the second step. A second-factor link opened in this browser lets this account set
    up an authenticator."""
    link = usable_link(get_session(), session.get("link_id"), utcnow())
    if link and link.user_id == user.id and link.purpose == LinkPurpose.SECOND_FACTOR:
        return begin_second_step(user, may_enrol=True, link_id=link.id)
    return begin_second_step(user)


def begin_second_step(
    user: StaffUser, may_enrol: bool = False, link_id: int | None = None
) -> WerkzeugResponse:
    """A fresh session waiting for `user`'s second factor. `may_enrol`: this browser proved the
    account's address (a link) as well as its password, so it may set up an authenticator;
    `link_id` is the second-factor link to use up when it does."""
    session.clear()
    session["pending_user"] = user.id
    session["pending_since"] = utcnow().timestamp()
    if may_enrol:
        session["enrol_user"] = user.id
        session["enrol_link"] = link_id
    return redirect(url_for("staff.mfa"))


def pending_user() -> StaffUser | None:
    user_id, since = session.get("pending_user"), session.get("pending_since", 0)
    if user_id is None or utcnow().timestamp() - since > PENDING_SECONDS:
        return None
    user = get_session().get(StaffUser, user_id)
    return user if user is not None and user.active else None


@bp.route("/mfa", methods=["GET", "POST"])
@limiter.limit(MFA_PER_IP, methods=["POST"], on_breach=_throttled_sign_in)
@limiter.limit(
    MFA_PER_ACCOUNT,
    key_func=pending_account_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 400,
    on_breach=_throttled_sign_in,
)
def mfa() -> str | tuple[str, int] | WerkzeugResponse:
    """The second step: a TOTP code, or setting up the authenticator app the first time."""
    user = pending_user()
    if user is None:
        return redirect(url_for("staff.login"))
    db = get_session()
    has_passkeys = bool(passkeys_of(db, user))
    setting_up = user.totp_secret is None and not has_passkeys
    if setting_up and session.get("enrol_user") != user.id:
        return _second_factor_link(user)
    try:
        secret = pending_totp_secret(user, utcnow()) if setting_up else totp_secret(user)
    except SecretUnreadable:
        log.error("the second factor of staff user %d does not open: MFA_ENCRYPTION_KEY", user.id)
        return render_template("staff/mfa_unavailable.html"), 503
    db.commit()
    form = CodeForm()
    if form.validate_on_submit():
        # (an account with passkeys only has no code that could be right)
        if secret is not None and claim_totp_code(db, user, secret, form.code.data, utcnow()):
            if setting_up:
                link = usable_link(db, session.get("enrol_link"), utcnow())
                if session.get("enrol_link") is not None and (
                    link is None or not use_link(db, link, utcnow())
                ):
                    db.rollback()
                    session.clear()
                    return redirect(url_for("staff.login"))
                confirm_totp(user)
                audit.record(db, "mfa set up", actor=user, commit=False)
            return complete_sign_in(user)
        db.rollback()
        audit.record(db, "sign-in failed", actor=user, detail="wrong code")
        form.code.errors = [_("This code is not right. Wait for a new code and try again.")]
    context = {"form": form, "setting_up": setting_up, "passkeys": has_passkeys}
    if setting_up and secret is not None:
        uri = totp_uri(secret, user.email, f"Ervaringswijzer {current_app.config['PROVIDER_NAME']}")
        # A standalone SVG document (with its namespace): as a data: image, the inline variant
        # without xmlns shows nothing in a browser.
        svg = io.BytesIO()
        segno.make(uri, error="m").save(svg, kind="svg", scale=5, xmldecl=False)
        context.update(secret=secret, qr=base64.b64encode(svg.getvalue()).decode())
    return render_template("staff/mfa.html", **context), (400 if form.errors else 200)


def _second_factor_link(user: StaffUser) -> tuple[str, int]:
    """An account without a second factor, signed in with its password only: the password
    alone must not register an authenticator. A one-time link goes to the account's own
    address (at most one every few minutes); the page says so."""
    db = get_session()
    now = utcnow()
    if not recently_issued(db, user, LinkPurpose.SECOND_FACTOR, now):
        try:
            mail_new_link(db, user, LinkPurpose.SECOND_FACTOR, now)
        except LinkNotSent as failed:
            log.error("second-factor link for staff user %d not sent: %s", user.id, failed)
    session.clear()
    return render_template("staff/mfa_link_sent.html"), 200


def complete_sign_in(user: StaffUser, detail: str | None = None) -> WerkzeugResponse:
    """A fresh session id for a fresh sign-in (nothing of the anonymous session survives);
    `detail` says how, in the audit log, when not with the password and the app's own code."""
    db = get_session()
    raw_id = start_session(db, user, utcnow())
    db.commit()
    session.clear()
    staff_session = load_session(db, raw_id, utcnow())
    assert staff_session is not None, "the session was started and committed just above"
    login_user(SignedIn(raw_id, staff_session))
    audit.record(db, "sign-in", actor=user, detail=detail)
    return redirect(url_for("staff.home"))


@bp.route("/logout", methods=["POST"])
def logout() -> WerkzeugResponse:
    """Sign out: the session ends on the server, so a copied cookie stops working too."""
    db = get_session()
    audit.record(db, "sign-out", commit=False)
    end_session(db, current_user.get_id())
    db.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."))
    return redirect(url_for("staff.login"))


@bp.route("/")
def home() -> str:
    """The start page: what this role can do."""
    return render_template("staff/home.html", logout_form=ButtonForm())


@bp.route("/password", methods=["GET", "POST"])
@limiter.limit(
    PASSWORD_CHANGE_PER_ACCOUNT,
    key_func=signed_in_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 400,
)
def password() -> str | tuple[str, int] | WerkzeugResponse:
    """Change the password (then sign in again everywhere)."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        db = get_session()
        user = db.get(StaffUser, current_user.user.id)
        assert user is not None, "a signed-in session belongs to an existing account"
        try:
            change_password(db, user, form.current.data, form.new.data)
        except AccountError:
            form.current.errors = [_("This is not your current password.")]
        except WeakPassword as weak:
            form.new.errors = [password_message(str(weak))]
        else:
            audit.record(db, "password changed", object_type="user", object_id=user.id)
            session.clear()
            flash(_("Your password is changed. Please sign in with the new password."))
            return redirect(url_for("staff.login"))
    return render_template("staff/password.html", form=form), (400 if form.errors else 200)
