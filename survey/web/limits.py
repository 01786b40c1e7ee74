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
UNKNOWN_TOKENS_PER_IP = "30 per 10 minutes"


def account_key() -> str:
    """The rate-limit key of the account named in a sign-in form (hashed; every spelling that
    signs in to the same account counts for it)."""
    email = request.form.get("email", "")
    try:
        email = normalise_email(email)
    except AccountError:
        email = email.strip().lower()
    return "account:" + hashlib.sha256(email.encode("utf-8", "replace")).hexdigest()[:32]


def pending_account_key() -> str:
    """The rate-limit key of the account waiting for its second factor (from any IP)."""
    return f"mfa:{session.get('pending_user', 'none')}"


def init_app(app: Flask) -> None:
    """Attach the limiter; storage and switches come from app.config."""
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    limiter.init_app(app)
