"""Staff sign-in under attack through the real pages: brute force, spraying, guessing.

Every request goes through the pages a browser sees (CSRF tokens taken from the forms). Rate
limits are read from survey.web.limits, so the tests follow a changed limit instead of breaking;
passing time for the limiter is simulated by moving the clock that `limits`' memory storage reads.
"""

from __future__ import annotations

import statistics
import time

import limits
import limits.storage.memory
import pytest

from survey.accounts.passwords import hash_password
from survey.accounts.users import normalise_email
from survey.invitations.operations import new_token
from survey.models import StaffUser
from survey.web.limits import (
    MFA_PER_ACCOUNT,
    PASSWORD_CHANGE_PER_ACCOUNT,
    SIGN_IN_PER_ACCOUNT,
    SIGN_IN_PER_IP,
    UNKNOWN_TOKENS_PER_IP,
    limiter,
)
from tests.factories import make_invited
from tests.pages import csrf_token, field_error, soup, text_of
from tests.security_helpers import (
    audit_events,
    goes_to,
)
from tests.staff_helpers import (
    LOGIN_URL,
    MFA_URL,
    get,
    make_staff,
    post_form,
    request,
    signed_in_client,
    submit_password,
    totp_code,
)


def limit_of(rule: str) -> limits.RateLimitItem:
    """A limit string of survey.web.limits, parsed ('5 per 15 minutes' → amount 5, 900 s)."""
    return limits.parse(rule)


class ShiftedClock:
    """A stand-in for the `time` module of limits' memory storage: real time plus an offset."""

    def __init__(self) -> None:
        self.offset = 0.0

    def time(self) -> float:
        return time.time() + self.offset


@pytest.fixture
def limiter_clock(monkeypatch: pytest.MonkeyPatch) -> ShiftedClock:
    """Move the rate limiter's clock (only its storage's: TOTP and the app keep real time)."""
    clock = ShiftedClock()
    monkeypatch.setattr(limits.storage.memory, "time", clock)
    return clock


def is_throttled_page(answer) -> bool:
    text = text_of(answer.get_data(as_text=True))
    return answer.status_code == 429 and "Te veel pogingen" in text and "Too many attempts" in text


# -- 1. brute force ----------------------------------------------------------------------------


def test_wrong_passwords_on_one_account_are_throttled_for_a_while(client, db, limiter_clock):
    user, password, _ = make_staff(db, "viewer")
    allowed = limit_of(SIGN_IN_PER_ACCOUNT)
    statuses = [submit_password(client, user.email, f"verkeerd {n}").status_code for n in range(10)]
    assert statuses == [401] * allowed.amount + [429] * (10 - allowed.amount)

    throttled = submit_password(client, user.email, password)  # even the right one, for now
    assert is_throttled_page(throttled)
    assert len(audit_events(db, "sign-in failed")) == allowed.amount
    events = audit_events(db, "sign-in throttled")
    assert len(events) == 11 - allowed.amount
    assert {(e.actor_email, e.ip) for e in events} == {(user.email, "127.0.0.1")}
    assert all(str(allowed.amount) in (e.detail or "") for e in events)

    limiter_clock.offset = allowed.get_expiry() + 1
    assert goes_to(submit_password(client, user.email, password), MFA_URL)


def test_one_password_sprayed_over_many_accounts_is_throttled_per_ip(client, db, limiter_clock):
    password_hash = hash_password("een wachtwoord dat niemand heeft")  # one hash: faster
    emails = [f"medewerker{n}@zorgaanbieder.example.org" for n in range(30)]
    db.add_all(StaffUser(email=e, role="viewer", password_hash=password_hash) for e in emails)
    db.commit()
    allowed = limit_of(SIGN_IN_PER_IP)
    statuses = [submit_password(client, e, "Welkom2024!Welkom").status_code for e in emails]
    assert statuses == [401] * allowed.amount + [429] * (30 - allowed.amount)
    assert len(audit_events(db, "sign-in failed")) == allowed.amount
    throttled = audit_events(db, "sign-in throttled")
    assert len(throttled) == 30 - allowed.amount
    assert {e.ip for e in throttled} == {"127.0.0.1"}

    user, password, _ = make_staff(db, "viewer")
    assert is_throttled_page(submit_password(client, user.email, password))
    colleague = submit_password_from(client, user.email, password, "10.0.0.2")
    assert goes_to(colleague, MFA_URL)  # another address is not locked out
    limiter_clock.offset = allowed.get_expiry() + 1
    assert goes_to(submit_password(client, user.email, password), MFA_URL)


def test_guessing_from_other_addresses_never_locks_the_owner_out(client, db, limiter_clock):
    user, password, _ = make_staff(db, "viewer")
    per_account = limit_of(SIGN_IN_PER_ACCOUNT).amount
    attackers = [f"203.0.113.{n}" for n in range(1, 5)]  # more guesses than one address may
    statuses = {
        ip: [
            submit_password_from(client, user.email, f"gok {ip} {n}", ip).status_code
            for n in range(per_account + 2)
        ]
        for ip in attackers
    }
    # Each guessing address is slowed down on its own: its first tries fail, then it waits.
    for ip, answers in statuses.items():
        assert answers == [401] * per_account + [429] * 2, (ip, answers)
    assert len(audit_events(db, "sign-in failed")) == per_account * len(attackers)
    # The owner at their own desk signs in at once, with no waiting.
    owner = submit_password_from(client, user.email, password, "192.0.2.10")
    assert goes_to(owner, MFA_URL)
    # And a typo of the owner's own counts for the owner's address only.
    assert submit_password_from(client, user.email, "typo", "192.0.2.10").status_code == 401


def other_spellings(email: str, count: int) -> list[str]:
    """Spellings that name the same account: one domain letter typed in full width (ａ for a)."""
    local, domain = email.split("@")
    letters = [i for i, c in enumerate(domain) if c.isalpha()][:count]
    return [f"{local}@{domain[:i]}{chr(ord(domain[i]) + 0xFEE0)}{domain[i + 1 :]}" for i in letters]


def test_other_spellings_of_an_address_count_for_the_same_account(client, db):
    user, _, _ = make_staff(db, "viewer")
    spellings = other_spellings(user.email, 10)
    assert {normalise_email(s) for s in spellings} == {user.email}  # the same account
    allowed = limit_of(SIGN_IN_PER_ACCOUNT)
    statuses = [
        submit_password(client, s, f"verkeerd {n}").status_code for n, s in enumerate(spellings)
    ]
    assert statuses == [401] * allowed.amount + [429] * (10 - allowed.amount)


def submit_password_from(client, email: str, password: str, ip: str):
    """The sign-in POST from another IP address."""
    env = {"environ_base": {"REMOTE_ADDR": ip}}
    token = csrf_token(get(client, LOGIN_URL, **env).get_data(as_text=True))
    data = {"csrf_token": token, "email": email, "password": password}
    return request(client, "POST", LOGIN_URL, data=data, **env)


def post_login_timed(client, email: str, password: str) -> tuple[object, float]:
    """The sign-in POST (its CSRF token fetched first, outside the measured time)."""
    limiter.reset()  # the measurement is about work per attempt, not about throttling
    token = csrf_token(get(client, LOGIN_URL).get_data(as_text=True))
    data = {"csrf_token": token, "email": email, "password": password}
    started = time.perf_counter()
    answer = request(client, "POST", LOGIN_URL, data=data)
    return answer, time.perf_counter() - started


def comparable(answer, email: str) -> str:
    """The page with its CSRF token and the echoed email replaced by placeholders."""
    page = soup(answer.get_data(as_text=True).replace(email, "EMAIL"))
    for token in page.find_all("input", attrs={"name": "csrf_token"}):
        token["value"] = "TOKEN"
    return str(page)


def test_unknown_email_and_wrong_password_answer_alike(client, db):
    user, _, _ = make_staff(db, "viewer")
    local, domain = user.email.split("@")
    unknown = "x" * len(local) + "@" + domain
    post_login_timed(client, unknown, "warming up the page")
    times: dict[str, list[float]] = {"unknown": [], "known": []}
    answers = {}
    for _ in range(5):
        for kind, email in (("unknown", unknown), ("known", user.email)):
            answers[kind], seconds = post_login_timed(client, email, "verkeerd wachtwoord 123")
            times[kind].append(seconds)
    assert answers["unknown"].status_code == answers["known"].status_code == 401
    assert comparable(answers["unknown"], unknown) == comparable(answers["known"], user.email)
    error = field_error(answers["known"].get_data(as_text=True), "password")
    assert error == "Fout: Het e-mailadres of het wachtwoord klopt niet."
    headers = {
        kind: {k: v for k, v in answer.headers if k not in ("Set-Cookie", "Date")}
        for kind, answer in answers.items()
    }
    assert headers["unknown"] == headers["known"]
    unknown_median, known_median = (statistics.median(times[k]) for k in ("unknown", "known"))
    assert 1 / 3 < unknown_median / known_median < 3, times


def test_guessing_survey_links_is_throttled_but_other_families_get_in(client, db):
    _, token = make_invited(db)
    allowed = limit_of(UNKNOWN_TOKENS_PER_IP)
    statuses = [get(client, f"/s/{new_token()}").status_code for _ in range(allowed.amount)]
    assert statuses == [404] * allowed.amount
    assert is_throttled_page(get(client, f"/s/{new_token()}"))
    family = get(client, f"/s/{token}", environ_base={"REMOTE_ADDR": "10.0.0.2"})
    assert family.status_code == 200
    assert 'name="self_direction"' in family.get_data(as_text=True)


def test_code_guessing_is_throttled_per_account_from_any_ip(client, db):
    user, password, secret = make_staff(db, "quality")
    assert submit_password(client, user.email, password).status_code == 302
    wrong = "000000" if totp_code(secret) != "000000" else "111111"
    statuses = []
    for n in range(7):
        env = {"environ_base": {"REMOTE_ADDR": f"10.0.1.{n + 1}"}}  # a botnet: a new IP each try
        token = csrf_token(get(client, MFA_URL, **env).get_data(as_text=True))
        answer = request(client, "POST", MFA_URL, data={"csrf_token": token, "code": wrong}, **env)
        statuses.append(answer.status_code)
    allowed = limit_of(MFA_PER_ACCOUNT).amount
    assert statuses == [400] * allowed + [429] * (7 - allowed)


def test_wrong_codes_on_an_account_are_shown_to_admins(app, client, db):
    user, password, secret = make_staff(db, "quality")
    assert submit_password(client, user.email, password).status_code == 302
    wrong = "000000" if totp_code(secret) != "000000" else "111111"
    for _ in range(3):
        assert post_form(client, MFA_URL, {"code": wrong}).status_code == 400
    admin_client, _ = signed_in_client(app, None, "admin")
    page = soup(get(admin_client, "/staff/admin/users").get_data(as_text=True))
    row = next(tr for tr in page.find_all("tr") if user.email in tr.get_text())
    assert "3 foute codes in de afgelopen 24 uur" in text_of(str(row))
    quiet = next(tr for tr in page.find_all("tr") if "admin" in tr.get_text() and tr is not row)
    assert "foute code" not in text_of(str(quiet))


def test_guessing_the_current_password_is_throttled_too(app, db):
    client, _ = signed_in_client(app, db, "viewer")
    allowed = limit_of(PASSWORD_CHANGE_PER_ACCOUNT).amount
    statuses = [
        post_form(
            client,
            "/staff/password",
            {"current": f"geraden wachtwoord {n}", "new": "een nieuw lang wachtwoord 2026"},
        ).status_code
        for n in range(allowed + 2)
    ]
    assert statuses == [400] * allowed + [429] * 2
    assert is_throttled_page(post_form(client, "/staff/password", {"current": "x", "new": "y"}))
