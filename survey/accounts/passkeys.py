"""Passkeys (WebAuthn) as a second factor beside the authenticator app, with py_webauthn.

The relying party is the host of PUBLIC_BASE_URL (never the request's Host header), the origin
PUBLIC_BASE_URL itself. Each ceremony's challenge is made here, kept on the account row and
taken once (a conditional UPDATE), for five minutes at most. A stored credential holds the
public key and the signature counter only: nothing in the database lets anyone sign in. An
account keeps at least one second factor: a passkey is removed only when the authenticator app
or another passkey remains.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from survey.models import Passkey, StaffUser

log = logging.getLogger(__name__)

MAX_NAME = 60
CHALLENGE_LIFETIME = timedelta(minutes=5)


class PasskeyRefused(ValueError):
    """A ceremony's answer did not verify, or a removal would leave no second factor."""


def relying_party(base_url: str) -> tuple[str, str]:
    """(rp id, expected origin) of an installation: the host of PUBLIC_BASE_URL, and the URL."""
    parts = urlsplit(base_url)
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


def passkeys_of(session: Session, user: StaffUser) -> list[Passkey]:
    """The account's passkeys, oldest first."""
    query = select(Passkey).where(Passkey.user_id == user.id).order_by(Passkey.id)
    return list(session.scalars(query))


def _descriptors(keys: list[Passkey]) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=key.credential_id) for key in keys]


def registration_options(
    session: Session, user: StaffUser, base_url: str, rp_name: str
) -> tuple[str, bytes]:
    """(options as JSON for the browser, the challenge to keep) for adding a passkey."""
    rp_id, _ = relying_party(base_url)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name=rp_name,
        user_id=f"staff-{user.id}".encode(),
        user_name=user.email,
        exclude_credentials=_descriptors(passkeys_of(session, user)),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
    )
    return options_to_json(options), options.challenge


def add_passkey(
    session: Session,
    user: StaffUser,
    credential: dict[str, Any],
    challenge: bytes,
    base_url: str,
    name: str,
    now: datetime,
) -> Passkey:
    """Verify a registration answer and store the passkey; raises PasskeyRefused."""
    rp_id, origin = relying_party(base_url)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError):
        raise PasskeyRefused("registration") from None
    exists = select(Passkey.id).where(Passkey.credential_id == verified.credential_id)
    if session.scalar(exists) is not None:
        raise PasskeyRefused("registration")
    key = Passkey(
        user_id=user.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=(name.strip() or "Passkey")[:MAX_NAME],
        created_at=now,
    )
    session.add(key)
    session.flush()
    log.info("staff user %d added passkey %d", user.id, key.id)
    return key


def authentication_options(session: Session, user: StaffUser, base_url: str) -> tuple[str, bytes]:
    """(options as JSON, the challenge to keep) for signing in with one of the account's keys."""
    rp_id, _ = relying_party(base_url)
    options = generate_authentication_options(
        rp_id=rp_id,
        allow_credentials=_descriptors(passkeys_of(session, user)),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), options.challenge


def check_passkey(
    session: Session,
    user: StaffUser,
    credential: dict[str, Any],
    challenge: bytes,
    base_url: str,
    now: datetime,
) -> Passkey:
    """Verify a sign-in answer against the account's own passkeys; raises PasskeyRefused.

    A counter that did not go up (a cloned authenticator) is refused, unless the authenticator
    keeps no counter at all (0, as synced passkeys do)."""
    rp_id, origin = relying_party(base_url)
    raw_id = str(credential.get("id", "")) if isinstance(credential, dict) else ""
    key = next(
        (k for k in passkeys_of(session, user) if bytes_to_base64url(k.credential_id) == raw_id),
        None,
    )
    if key is None:
        raise PasskeyRefused("unknown passkey")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError):
        raise PasskeyRefused("authentication") from None
    key.sign_count, key.last_used_at = verified.new_sign_count, now
    return key


def remove_passkey(session: Session, user: StaffUser, passkey_id: int) -> Passkey:
    """Remove one of the account's passkeys, never its last second factor."""
    keys = passkeys_of(session, user)
    key = next((k for k in keys if k.id == passkey_id), None)
    if key is None:
        raise PasskeyRefused("unknown passkey")
    if user.totp_secret is None and len(keys) == 1:
        raise PasskeyRefused("last factor")
    session.delete(key)
    log.info("staff user %d removed passkey %d", user.id, passkey_id)
    return key


def keep_challenge(user: StaffUser, challenge: bytes, now: datetime) -> None:
    """The challenge of the ceremony that starts now, on the account row (the caller
    commits); a new ceremony replaces an older one."""
    user.passkey_challenge, user.passkey_challenge_at = bytes_to_base64url(challenge), now


def take_challenge(session: Session, user: StaffUser, now: datetime) -> bytes:
    """The challenge of the ceremony under way, taken out with a conditional UPDATE: of two
    answers to one challenge (a replay, two tabs) exactly one gets it. Raises PasskeyRefused
    when there is none, or it is older than CHALLENGE_LIFETIME."""
    session.refresh(user)
    kept = user.passkey_challenge
    if kept is None:
        raise PasskeyRefused("no challenge")
    taken = session.execute(
        update(StaffUser)
        .where(
            StaffUser.id == user.id,
            StaffUser.passkey_challenge == kept,
            StaffUser.passkey_challenge_at > now - CHALLENGE_LIFETIME,
        )
        .values(passkey_challenge=None, passkey_challenge_at=None)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise PasskeyRefused("no challenge")
    return base64url_to_bytes(kept)


def parse_credential(body: bytes) -> dict[str, Any]:
    """The browser's JSON answer as a dict; raises PasskeyRefused for anything else."""
    try:
        credential = json.loads(body or b"null")
    except (ValueError, UnicodeError):
        raise PasskeyRefused("not json") from None
    if not isinstance(credential, dict):
        raise PasskeyRefused("not json")
    return credential
