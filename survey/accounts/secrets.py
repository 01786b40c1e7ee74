"""Second-factor secrets at rest: sealed with MFA_ENCRYPTION_KEY, so a database dump alone
(a backup, a copied file) gives no one the TOTP secret of any account.

MFA_ENCRYPTION_KEY holds one or more Fernet keys (AES-128-CBC with HMAC-SHA256, from the
`cryptography` package), separated by commas. The first key seals; every key unseals. Rotating:
put a new key in front of the old one, run `ervaringswijzer users rotate-mfa-key` (every secret
is sealed again with the new key), then remove the old key. A production installation must set
the variable (`check_config` refuses to start without it); development, demo and test runs
without it derive a key from SECRET_KEY, which is enough to keep the database file alone from
telling a secret.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

NEW_KEY = (
    "`python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
)
_DEVELOPMENT_BASIS = "ervaringswijzer development settings without SECRET_KEY"


class SecretUnreadable(RuntimeError):
    """A sealed secret does not open with any key of MFA_ENCRYPTION_KEY."""


def configured_keys(config: Mapping[str, Any]) -> list[str]:
    """The keys of MFA_ENCRYPTION_KEY, in order (empty when unset)."""
    raw = config.get("MFA_ENCRYPTION_KEY") or ""
    return [key.strip() for key in str(raw).split(",") if key.strip()]


def key_problem(config: Mapping[str, Any]) -> str | None:
    """Why MFA_ENCRYPTION_KEY cannot be used (without showing any key), or None."""
    for number, key in enumerate(configured_keys(config), start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            return (
                f"MFA_ENCRYPTION_KEY: key {number} is not a Fernet key (32 bytes, url-safe "
                f"base64). Make one with {NEW_KEY}."
            )
    return None


def _derived_key(config: Mapping[str, Any]) -> bytes:
    basis = str(config.get("SECRET_KEY") or _DEVELOPMENT_BASIS).encode()
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"ervaringswijzer", info=b"mfa secrets")
    return base64.urlsafe_b64encode(hkdf.derive(basis))


def make_cipher(config: Mapping[str, Any]) -> MultiFernet:
    """The cipher of these settings: MFA_ENCRYPTION_KEY's keys, or one derived from SECRET_KEY."""
    keys = configured_keys(config) or [_derived_key(config).decode()]
    return MultiFernet([Fernet(key) for key in keys])


def _cipher() -> MultiFernet:
    cipher: MultiFernet = current_app.extensions["mfa_cipher"]
    return cipher


def seal(secret: str, cipher: MultiFernet | None = None) -> str:
    """`secret` encrypted and authenticated with the first key (text, for a string column)."""
    return (cipher or _cipher()).encrypt(secret.encode()).decode("ascii")


def _opened(sealed: str, cipher: MultiFernet | None, rotate: bool) -> bytes:
    """`sealed` decrypted, or (`rotate`) sealed again with the first key; SecretUnreadable when
    no key opens it."""
    token = sealed.encode("ascii", "replace")
    try:
        return (
            (cipher or _cipher()).rotate(token) if rotate else (cipher or _cipher()).decrypt(token)
        )
    except InvalidToken:
        raise SecretUnreadable(
            "a second-factor secret does not open with MFA_ENCRYPTION_KEY: the key it was "
            "sealed with is missing (see `ervaringswijzer users rotate-mfa-key`)"
        ) from None


def unseal(sealed: str, cipher: MultiFernet | None = None) -> str:
    """The secret inside `sealed`; raises SecretUnreadable when no key opens it."""
    return _opened(sealed, cipher, rotate=False).decode()


def reseal(sealed: str, cipher: MultiFernet | None = None) -> str:
    """`sealed` sealed again with the first key (rotation); raises SecretUnreadable."""
    return _opened(sealed, cipher, rotate=True).decode("ascii")
