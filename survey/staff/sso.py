"""Single sign-on for staff with the organisation's OpenID Connect provider (Authlib).

Configured by OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_CLIENT_SECRET; the sign-in page then offers
"Sign in with your organisation" (PASSWORD_LOGIN=0 leaves only that). The authorization code
flow with PKCE (S256): Authlib makes `state`, `nonce` and the code verifier, keeps them in the
session, and checks the ID token's signature (the provider's published keys), issuer, audience
(our client id), expiry and nonce. The callback address is built from PUBLIC_BASE_URL, never
from the request.

An identity signs in to an existing, active staff account with the same *verified* email
address, which keeps its role and scope; there are no automatic accounts. Unknown identities and
refused tokens are audited without the address. When the ID token says the provider did
multi-factor authentication (`amr` contains "mfa"), the app does not ask for its own code;
otherwise the usual second step follows.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth
from flask import Flask, abort, current_app, render_template, url_for
from joserfc.errors import JoseError
from sqlalchemy import select
from werkzeug.wrappers import Response as WerkzeugResponse

from survey.accounts import audit
from survey.accounts.users import AccountError, normalise_email
from survey.db import get_session
from survey.models import StaffUser
from survey.staff import bp
from survey.staff.views import complete_sign_in, second_step

log = logging.getLogger(__name__)

CLIENT_NAME = "organisation"
# RFC 8176: "mfa" is what Entra ID, Okta and Keycloak send after a second factor.
MULTI_FACTOR_AMR = frozenset({"mfa"})


def init_app(app: Flask) -> None:
    """Register the provider when OIDC_ISSUER is set (metadata is fetched at the first use)."""
    issuer = app.config.get("OIDC_ISSUER")
    if not issuer:
        return
    oauth = OAuth(app)
    oauth.register(
        CLIENT_NAME,
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=f"{issuer.rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={"scope": "openid email", "code_challenge_method": "S256", "timeout": 10},
    )
    app.extensions["sso"] = oauth


def _client() -> Any:
    oauth = current_app.extensions.get("sso")
    if oauth is None:
        abort(404)
    return oauth.create_client(CLIENT_NAME)


@bp.route("/sso")
def sso_start() -> WerkzeugResponse:
    """Off to the organisation's sign-in page (a fresh state, nonce and PKCE verifier)."""
    callback = current_app.config["PUBLIC_BASE_URL"] + url_for("staff.sso_callback")
    try:
        return _client().authorize_redirect(callback)
    except (AuthlibBaseError, JoseError, requests.RequestException, ValueError) as failed:
        log.error("single sign-on unavailable: %s", type(failed).__name__)
        return _refused("unavailable", 503)  # type: ignore[return-value]


def _refused(reason: str, status: int) -> tuple[str, int]:
    audit.record(get_session(), "single sign-on refused", detail=reason)
    return render_template("staff/sso_refused.html", reason=reason), status


@bp.route("/sso/callback")
def sso_callback() -> WerkzeugResponse | tuple[str, int]:
    """Back from the provider: check everything, then sign in the matching account."""
    client = _client()
    try:
        issuer = client.load_server_metadata()["issuer"]
        if issuer.rstrip("/") != current_app.config["OIDC_ISSUER"]:
            raise ValueError("the provider's metadata names another issuer")
        # Signature, expiry and nonce are checked by Authlib; issuer and audience are made
        # essential here (Authlib alone would accept a token for another audience that names
        # us as its authorised party).
        token = client.authorize_access_token(
            claims_options={
                "iss": {"essential": True, "values": [issuer]},
                "aud": {"essential": True, "values": [current_app.config["OIDC_CLIENT_ID"]]},
            }
        )
    except (AuthlibBaseError, JoseError, requests.RequestException, ValueError) as failed:
        # A replayed or foreign state, a refused code, a bad signature, a wrong audience,
        # issuer or nonce: the name of the check that failed, nothing from the token.
        detail = type(failed).__name__
        claim = getattr(failed, "claim", None)  # joserfc names the claim that failed
        detail += f": {claim}" if isinstance(claim, str) else ""
        log.warning("single sign-on refused: %s", detail)
        return _refused(f"token refused ({detail})", 400)
    claims = token.get("userinfo")
    if not claims:
        return _refused("no ID token", 400)
    if claims.get("email_verified") is not True or not claims.get("email"):
        return _refused("no verified email", 403)
    try:
        email = normalise_email(str(claims["email"]))
    except AccountError:
        return _refused("no verified email", 403)
    db = get_session()
    user = db.scalar(select(StaffUser).where(StaffUser.email == email))
    if user is None or not user.active:
        # No automatic accounts: an identity without an active account gets nothing.
        return _refused("no active account for this identity", 403)
    # The first identity that signs in to an account is the only one that may afterwards: a
    # mailbox renamed or reused at the organisation does not open someone else's account.
    subject = f"{claims.get('iss')} {claims.get('sub')}"
    if user.oidc_subject is None:
        user.oidc_subject = subject
    elif user.oidc_subject != subject:
        return _refused("another identity than the account's own", 403)
    amr = claims.get("amr") or []
    multi_factor = bool(MULTI_FACTOR_AMR & set(amr if isinstance(amr, list) else [amr]))
    if not current_app.config["REQUIRE_MFA"] or multi_factor:
        how = "multi-factor at the organisation" if multi_factor else "password only"
        return complete_sign_in(user, detail=f"single sign-on, {how}")
    return second_step(user)
