"""Fuzzing the staff sign-in form with Hypothesis: every POST gets an answer from ALLOWED, and only
the real address (in any spelling that names it) with the real password gets past the first step.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from survey.accounts.users import AccountError, normalise_email
from survey.web.limits import limiter
from tests.fuzzing import (
    ALLOWED,
    FUZZ,
    PAYLOAD,
    RAW_TYPES,
    any_character,
    form_body,
    usually,
)
from tests.pages import csrf_token
from tests.staff_helpers import LOGIN_URL, get, make_staff, request


@pytest.fixture
def account(db, quick_hashing):
    user, password, _ = make_staff(db, "admin")
    return user.email, password


def spellings(email: str) -> st.SearchStrategy[str]:
    """The account's address as people (and attackers) type it; all name the same account."""
    local, domain = email.split("@")
    return st.sampled_from(
        [email, email.upper(), f"  {email} ", f"{local}@{domain.replace('a', 'ａ')}"]
    )


emails = st.one_of(
    st.text(any_character, max_size=300),
    st.sampled_from(["x\x00@example.org", "a" * 10_000, "@", "a@b", PAYLOAD, "\ud800@example.org"]),
)
secrets_ = st.one_of(st.text(any_character, max_size=200), st.sampled_from(["p" * 10_000, "\x00"]))


@settings(FUZZ, max_examples=150)
@given(
    data=st.data(),
    with_csrf=usually,
    kind=st.sampled_from(["urlencoded", "urlencoded", "multipart", "raw"]),
    raw_type=st.sampled_from(RAW_TYPES),
)
def test_sign_in_form_answers_every_post_without_failing(
    client, account, data, with_csrf, kind, raw_type
):
    limiter.reset()
    real_email, real_password = account
    email = data.draw(st.one_of(emails, spellings(real_email)), label="email")
    password = data.draw(
        st.one_of(secrets_, st.sampled_from([real_password, real_password + "\x00"])),
        label="password",
    )
    pairs = [("email", email), ("password", password)]
    if with_csrf:
        pairs.append(("csrf_token", csrf_token(get(client, LOGIN_URL).get_data(as_text=True))))
    answer = request(client, "POST", LOGIN_URL, **form_body(pairs, kind, raw_type))
    assert answer.status_code in ALLOWED
    if answer.status_code == 302:  # only the real address and password get past this step
        assert answer.headers["Location"].endswith("/staff/mfa")
        assert password == real_password
        try:
            assert normalise_email(email) == real_email
        except AccountError:
            pytest.fail(f"signed in with an invalid address {email!r}")
