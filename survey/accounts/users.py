"""Staff accounts: creating users, checking passwords and TOTP codes, server-side sessions.

The web views and the `users` CLI both call these functions. Sessions live in `staff_session`:
the cookie holds a random id, the table its hash, so signing out or a timeout ends a session
everywhere, including in a copied cookie.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime, timedelta

import pyotp
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from survey.accounts import audit
from survey.accounts.links import expire_links
from survey.accounts.passwords import check_policy, hash_password, needs_rehash, verify_password
from survey.accounts.secrets import reseal, seal, unseal
from survey.enums import Role, ScopedRole
from survey.models import Passkey, Provider, StaffSession, StaffUser, utcnow
from survey.region.operations import find_municipality

log = logging.getLogger(__name__)

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=8)
# Writing last_seen_at on every request would make each page view a write.
TOUCH_INTERVAL = timedelta(minutes=1)
TOTP_STEP_SECONDS = 30


class AccountError(ValueError):
    """An account change was refused; `code` names the reason for the message shown."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def normalise_email(email: str) -> str:
    """A staff email as stored: validated and lower case; raises AccountError('email')."""
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        raise AccountError("email") from None


def create_user(
    session: Session,
    email: str,
    role: str,
    password: str | None,
    *,
    municipality: str | None = None,
    provider: str | None = None,
    via: str | None = None,
) -> StaffUser:
    """Create an active staff account and audit it; raises AccountError or WeakPassword.

    `password` None makes an account for an invitation (survey.mail.account_links): it has
    no password anyone knows until the invitation link is used.

    `municipality` limits the account to that municipality's aggregates (only the roles of
    `ScopedRole`: AccountError("scope_role"); an unknown name: AccountError("municipality"));
    `provider` (a slug) limits it to that provider's families: figures, comments, quotes and,
    for its admin, the audit log of its staff (unknown: AccountError("provider"); with a
    municipality too: AccountError("two_scopes")). Without either the
    account is regional. `via` names where it was done when that is not a
    signed-in admin's request ("command line"); the audit event is the same from every door.
    The caller commits: the account and its audit event go in together (the demo creates
    several in one transaction).
    """
    email = normalise_email(email)
    if role not in tuple(Role):
        raise AccountError("role")
    scope, owner = None, None
    if municipality is not None and provider is not None:
        raise AccountError("two_scopes")
    if provider is not None:
        owner = session.scalar(select(Provider).where(Provider.slug == provider))
        if owner is None:
            raise AccountError("provider")
    if municipality is not None:
        scope = find_municipality(session, municipality)
        if scope is None:
            raise AccountError("municipality")
        if role not in tuple(ScopedRole):
            raise AccountError("scope_role")
    if password is None:
        # An invitation: no password yet, and none that anyone could know (the colleague
        # chooses one with the invitation link). A real hash, so signing in costs the same.
        password = secrets.token_urlsafe(32)
    else:
        check_policy(password, email)
    if session.scalar(select(StaffUser.id).where(StaffUser.email == email)) is not None:
        raise AccountError("exists")
    user = StaffUser(
        email=email,
        role=role,
        password_hash=hash_password(password),
        active=True,
        municipality=scope,
        provider=owner,
    )
    session.add(user)
    session.flush()
    log.info("staff user %d created with role %s", user.id, role)
    detail = f"role {role}" + (f", municipality {scope.name}" if scope else "")
    detail += f", provider {owner.slug}" if owner else ""
    detail += f" ({via})" if via else ""
    audit.record(
        session,
        "user created",
        object_type="user",
        object_id=user.id,
        detail=detail,
        commit=False,
    )
    return user


USER_ACTIONS = ("set_role", "deactivate", "activate", "reset_mfa")
"""What an admin can do to an account (`update_user`)."""


def update_user(
    session: Session, user: StaffUser, action: str, *, by: StaffUser, role: str | None = None
) -> None:
    """Change a role, (de)activate an account or reset its second factor, and audit it.

    Every change but activating ends the account's sessions, so a demoted or deactivated
    colleague is signed out at once. Raises AccountError("self") when an admin would change
    their own role or deactivate themselves (nobody can lock the last door from inside), and
    AccountError("action") or AccountError("role") for values outside the fixed sets, and
    AccountError("scope_role") for a role a municipality's account cannot have. The
    caller commits.
    """
    if action not in USER_ACTIONS:
        raise AccountError("action")
    if user.id == by.id and action in {"set_role", "deactivate"}:
        raise AccountError("self")
    if action == "set_role":
        if role not in tuple(Role):
            raise AccountError("role")
        if user.municipality_id is not None and role not in tuple(ScopedRole):
            raise AccountError("scope_role")
        user.role = role
    elif action in {"deactivate", "activate"}:
        user.active = action == "activate"
    elif action == "reset_mfa":
        user.totp_secret, user.totp_last_step = None, None
        user.totp_pending, user.totp_pending_at = None, None
        # A reset is for a lost or stolen device: its passkeys go too.
        session.execute(delete(Passkey).where(Passkey.user_id == user.id))
    if action == "deactivate":
        expire_links(session, user, utcnow())
    if action != "activate":
        end_all_sessions(session, user)
    audit.record(
        session,
        f"user {action.replace('_', ' ')}",
        object_type="user",
        object_id=user.id,
        actor=by,
        detail=f"role {user.role}" if action == "set_role" else None,
        commit=False,
    )


def authenticate(session: Session, email: str, password: str) -> StaffUser | None:
    """The active user with this email and password, or None; equal work either way."""
    try:
        email = normalise_email(email)
    except AccountError:
        email = ""
    user = session.scalars(select(StaffUser).where(StaffUser.email == email)).one_or_none()
    ok = verify_password(user.password_hash if user else None, password)
    if not ok or user is None or not user.active:
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def change_password(session: Session, user: StaffUser, current: str, new: str) -> None:
    """Change a password after checking the current one; ends the user's other sessions."""
    if not verify_password(user.password_hash, current):
        raise AccountError("current_password")
    check_policy(new, user.email)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    log.info("staff user %d changed the password", user.id)


def set_password(session: Session, user: StaffUser, new: str) -> None:
    """Set a chosen password (an invitation or reset link proved the address); every session
    of the account ends. Raises WeakPassword. The caller commits."""
    check_policy(new, user.email)
    user.password_hash = hash_password(new)
    user.password_changed_at = utcnow()
    end_all_sessions(session, user)
    log.info("staff user %d chose a password with a link", user.id)


# -- TOTP -------------------------------------------------------------------------------------


def new_totp_secret() -> str:
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def totp_uri(secret: str, email: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=issuer)


PENDING_SECRET_LIFETIME = timedelta(minutes=15)


def pending_totp_secret(user: StaffUser, now: datetime) -> str:
    """The secret `user` is setting up: kept sealed on the account row (never in the cookie)
    until its first code proves it; a new one after PENDING_SECRET_LIFETIME. The caller
    commits."""
    fresh = (
        user.totp_pending_at is not None and now - user.totp_pending_at < PENDING_SECRET_LIFETIME
    )
    if user.totp_pending is not None and fresh:
        return unseal(user.totp_pending)
    secret = new_totp_secret()
    user.totp_pending, user.totp_pending_at = seal(secret), now
    return secret


def totp_secret(user: StaffUser) -> str | None:
    """The account's confirmed TOTP secret, unsealed; None when it has none."""
    return unseal(user.totp_secret) if user.totp_secret is not None else None


def claim_totp_code(
    session: Session, user: StaffUser, secret: str, code: str, now: datetime
) -> bool:
    """Accept a 6-digit code for `secret` (the current step ±1) exactly once.

    The step is claimed with one conditional UPDATE (only when it is later than the last step
    used), so of two requests racing with the same code exactly one gets the row: the other's
    UPDATE waits for the first to commit and then matches nothing. The caller commits.
    """
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return False  # "١٢٣٤٥٦" is digits too, but no code
    totp = pyotp.TOTP(secret)
    step = int(now.timestamp()) // TOTP_STEP_SECONDS
    for candidate in (step, step - 1, step + 1):
        if not secrets.compare_digest(totp.at(candidate * TOTP_STEP_SECONDS), code):
            continue
        claimed = session.execute(
            update(StaffUser)
            .where(
                StaffUser.id == user.id,
                or_(StaffUser.totp_last_step.is_(None), StaffUser.totp_last_step < candidate),
            )
            .values(totp_last_step=candidate)
            .execution_options(synchronize_session=False)
        )
        if claimed.rowcount == 1:  # type: ignore[attr-defined]
            session.refresh(user)
            return True
    return False


def confirm_totp(user: StaffUser) -> None:
    """The pending secret becomes the account's second factor (after its code was claimed)."""
    user.totp_secret, user.totp_pending, user.totp_pending_at = user.totp_pending, None, None


def reseal_all(session: Session) -> int:
    """Seal every stored and pending TOTP secret again with the first key (key rotation); the
    number of secrets. Raises SecretUnreadable, changing nothing, when one does not open."""
    count = 0
    for user in session.scalars(select(StaffUser).order_by(StaffUser.id)):
        if user.totp_secret is not None:
            user.totp_secret = reseal(user.totp_secret)
            count += 1
        if user.totp_pending is not None:
            user.totp_pending = reseal(user.totp_pending)
    log.info("%d second-factor secrets sealed with the first key", count)
    return count


# -- sessions ---------------------------------------------------------------------------------


def _hash_session_id(raw_id: str) -> str:
    return hashlib.sha256(raw_id.encode("ascii", "replace")).hexdigest()


def start_session(session: Session, user: StaffUser, now: datetime) -> str:
    """Create a new server-side session for `user`; return the id for the cookie."""
    raw_id = secrets.token_urlsafe(32)
    session.add(
        StaffSession(
            id_hash=_hash_session_id(raw_id), user_id=user.id, created_at=now, last_seen_at=now
        )
    )
    return raw_id


def load_session(session: Session, raw_id: str, now: datetime) -> StaffSession | None:
    """The live session for a cookie's id; an idle or too old one is ended and None returned."""
    staff_session = session.get(StaffSession, _hash_session_id(raw_id))
    if staff_session is None:
        return None
    user = staff_session.user
    expired = (
        now - staff_session.last_seen_at > IDLE_TIMEOUT
        or now - staff_session.created_at > ABSOLUTE_TIMEOUT
        or not user.active
    )
    if expired:
        session.delete(staff_session)
        session.commit()
        return None
    if now - staff_session.last_seen_at > TOUCH_INTERVAL:
        staff_session.last_seen_at = now
        session.commit()
    return staff_session


def end_session(session: Session, raw_id: str) -> None:
    """Sign out: the session id stops working everywhere."""
    session.execute(delete(StaffSession).where(StaffSession.id_hash == _hash_session_id(raw_id)))


def end_all_sessions(session: Session, user: StaffUser) -> None:
    """End every session of `user` (password change, deactivation, MFA reset)."""
    session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
