"""Passkeys in the browser (survey.accounts.passkeys): the sign-in security page where a staff
member adds and removes them, and the second sign-in step with one.

The ceremonies run in `static/passkeys.js` (no inline script: the CSP stays strict); it posts
JSON with the page's CSRF token in the X-CSRFToken header. A ceremony's challenge is kept on
the account row and taken once.
"""

from __future__ import annotations

from flask import current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response as WerkzeugResponse

from survey.accounts import audit
from survey.accounts.passkeys import (
    PasskeyRefused,
    add_passkey,
    authentication_options,
    check_passkey,
    keep_challenge,
    parse_credential,
    passkeys_of,
    registration_options,
    remove_passkey,
    take_challenge,
)
from survey.db import get_session
from survey.models import StaffUser, utcnow
from survey.staff import bp
from survey.staff.forms import ButtonForm
from survey.staff.views import complete_sign_in, pending_user
from survey.web.limits import MFA_PER_ACCOUNT, MFA_PER_IP, limiter, pending_account_key


def _base_url() -> str:
    return str(current_app.config["PUBLIC_BASE_URL"])


def _account() -> StaffUser:
    user = get_session().get(StaffUser, current_user.user.id)
    assert user is not None, "a signed-in session belongs to an existing account"
    return user


@bp.route("/security")
def security() -> str:
    """The account's second factors: the authenticator app and its passkeys."""
    db = get_session()
    user = _account()
    return render_template(
        "staff/security.html",
        passkeys=passkeys_of(db, user),
        has_app=user.totp_secret is not None,
        button=ButtonForm(),
    )


@bp.route("/security/passkeys/options", methods=["POST"])
def passkey_options() -> ResponseReturnValue:
    """The options for adding a passkey (a fresh challenge)."""
    name = f"Ervaringswijzer {current_app.config['PROVIDER_NAME']}"
    db = get_session()
    user = _account()
    options, challenge = registration_options(db, user, _base_url(), name)
    keep_challenge(user, challenge, utcnow())
    db.commit()
    return current_app.response_class(options, mimetype="application/json")


@bp.route("/security/passkeys", methods=["POST"])
def passkey_add() -> ResponseReturnValue:
    """Store the passkey the browser made, once its answer verifies."""
    db = get_session()
    user = _account()
    try:
        body = parse_credential(request.get_data())
        credential = body.get("credential")
        if not isinstance(credential, dict):
            raise PasskeyRefused("not json")
        challenge = take_challenge(db, user, utcnow())
        name = str(body.get("name", ""))
        key = add_passkey(db, user, credential, challenge, _base_url(), name, utcnow())
    except PasskeyRefused:
        db.rollback()
        return jsonify(error=_("The passkey could not be added. Please try again.")), 400
    audit.record(db, "passkey added", object_type="passkey", object_id=key.id)
    flash(_("Your passkey is added. You can use it at the next sign-in."))
    return jsonify(next=url_for("staff.security"))


@bp.route("/security/passkeys/<int:passkey_id>/remove", methods=["POST"])
def passkey_remove(passkey_id: int) -> WerkzeugResponse:
    """Remove a passkey, unless it is the account's last second factor."""
    db = get_session()
    if ButtonForm().validate_on_submit():
        try:
            remove_passkey(db, _account(), passkey_id)
        except PasskeyRefused as refused:
            db.rollback()
            if str(refused) == "last factor":
                flash(_("This is your only second factor: add another one before removing it."))
            else:
                flash(_("That did not work. Please try again."))
        else:
            audit.record(db, "passkey removed", object_type="passkey", object_id=passkey_id)
            flash(_("The passkey is removed."))
    return redirect(url_for("staff.security"))


@bp.route("/mfa/passkey/options", methods=["POST"])
def mfa_passkey_options() -> ResponseReturnValue:
    """The options for the second step with a passkey of the account waiting for it."""
    user = pending_user()
    if user is None or not passkeys_of(get_session(), user):
        return jsonify(error=_("Sign in with your password first.")), 400
    db = get_session()
    options, challenge = authentication_options(db, user, _base_url())
    keep_challenge(user, challenge, utcnow())
    db.commit()
    return current_app.response_class(options, mimetype="application/json")


@bp.route("/mfa/passkey", methods=["POST"])
@limiter.limit(MFA_PER_IP, methods=["POST"])
@limiter.limit(
    MFA_PER_ACCOUNT,
    key_func=pending_account_key,
    methods=["POST"],
    deduct_when=lambda response: response.status_code == 400,
)
def mfa_passkey() -> ResponseReturnValue:
    """The second step with a passkey: verified, the sign-in completes."""
    user = pending_user()
    if user is None:
        return jsonify(error=_("Sign in with your password first.")), 400
    db = get_session()
    try:
        credential = parse_credential(request.get_data())
        challenge = take_challenge(db, user, utcnow())
        check_passkey(db, user, credential, challenge, _base_url(), utcnow())
    except PasskeyRefused:
        db.rollback()
        audit.record(db, "sign-in failed", actor=user, detail="wrong passkey")
        return jsonify(error=_("This passkey could not be checked. Please try again.")), 400
    complete_sign_in(user, detail="passkey")
    return jsonify(next=url_for("staff.home"))
