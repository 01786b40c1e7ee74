"""Rate limits (Flask-Limiter): sign-in per account and per IP, survey-token guessing per IP.

Storage comes from RATELIMIT_STORAGE_URI (memory by default, `redis://…` when several processes
serve). Keys never contain an email address: accounts are keyed by a hash.
"""

from __future__ import annotations

import hashlib

from flask import Flask, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from survey.accounts.users import AccountError, normalise_email

limiter = Limiter(key_func=get_remote_address, strategy="fixed-window")

SIGN_IN_PER_IP = "20 per 15 minutes"
SIGN_IN_PER_ACCOUNT = "5 per 15 minutes"
MFA_PER_IP = "10 per 15 minutes"
MFA_PER_ACCOUNT = "5 per 15 minutes"
PASSWORD_CHANGE_PER_ACCOUNT = "5 per 15 minutes"  # noqa: S105  (a rate, not a password)
UNKNOWN_TOKENS_PER_IP = "30 per 10 minutes"
# Reset links per IP (per address, survey.accounts.links sends at most one every 10 minutes).
RESET_PER_IP = "10 per hour"


def account_key() -> str:
    """The rate-limit key of the account named in a sign-in form, from this IP (the email
    hashed; every spelling that signs in to the same account counts for it).

    Per account *and* IP: someone guessing from elsewhere slows down only themselves, never the
    rightful owner at their own desk (no targeted lockout); the per-IP limit caps each address.
    """
    email = request.form.get("email", "")
    try:
        email = normalise_email(email)
    except AccountError:
        email = email.strip().lower()
    digest = hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()[:32]
    return f"account:{digest}:{get_remote_address()}"


def pending_account_key() -> str:
    """The rate-limit key of the account waiting for its second factor, from any IP: whoever
    gets here knows the password, and a botnet must not get a million guesses at the code.
    Admins see the wrong codes of each account on the accounts page."""
    return f"mfa:{session.get('pending_user', 'none')}"


def signed_in_key() -> str:
    """The rate-limit key of the signed-in staff member (changing the password): the session
    id hashed, so no key in the store could be used as a cookie."""
    raw = str(session.get("_user_id", "none"))
    return "password:" + hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()[:32]


def init_app(app: Flask) -> None:
    """Attach the limiter; storage and switches come from app.config."""
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter.init_app(app)
