"""Staff passwords: argon2id hashes and the password policy (ASVS level 2, NIST 800-63B).

12 to 128 characters, no composition rules, and not one of the common passwords shipped in
`survey/data/common-passwords.txt.gz`. Hashing uses argon2-cffi's argon2id defaults.
"""

from __future__ import annotations

import gzip
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 12
MAX_LENGTH = 128
COMMON_PASSWORDS = Path(__file__).parent.parent / "data" / "common-passwords.txt.gz"

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both answers take the same time.
_DUMMY_HASH = _hasher.hash("not a real password: timing equaliser")


class WeakPassword(ValueError):
    """The password does not meet the policy; the message says why (in English msgid form)."""


@cache
def common_passwords() -> frozenset[str]:
    """The shipped list, loaded once per process."""
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def check_policy(password: str, email: str | None = None) -> None:
    """Raise WeakPassword unless `password` is acceptable."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword("too_short")
    if len(password) > MAX_LENGTH:
        raise WeakPassword("too_long")
    lowered = password.lower()
    if lowered in common_passwords() or (email and lowered == email.lower()):
        raise WeakPassword("too_common")


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; with no hash, burn the same time and say no."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)
