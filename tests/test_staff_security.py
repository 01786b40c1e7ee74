"""Staff-side security through the real pages: throttling, sessions, the second factor, and XSS.

Every request goes through the pages a browser sees (CSRF tokens taken from the forms). Rate
limits are read from survey.limits, so the tests follow a changed limit instead of breaking;
passing time for the limiter is simulated by moving the clock that `limits`' memory storage reads.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import re
import statistics
import time
from datetime import date, timedelta
from email import message_from_bytes, policy

import limits
import limits.storage.memory
import pytest
from sqlalchemy import func, select, update

from survey.invitations import new_token
from survey.limits import (
    MFA_PER_ACCOUNT,
    SIGN_IN_PER_ACCOUNT,
    SIGN_IN_PER_IP,
    UNKNOWN_TOKENS_PER_IP,
    limiter,
)
from survey.models import AuditEvent, Episode, ResponseAnswer, StaffSession, StaffUser, utcnow
from survey.staff.accounts import ABSOLUTE_TIMEOUT, IDLE_TIMEOUT, normalise_email
from survey.staff.passwords import hash_password
from tests.factories import EPISODE_CSV_HEADER, make_invited
from tests.pages import csrf_token, field_error, parts, text_of
from tests.staff_helpers import (
    HOME_URL,
    LOGIN_URL,
    MFA_URL,
    current_step,
    enrolment_secret,
    get,
    make_staff,
    post_form,
    request,
    sign_in,
    signed_in_client,
    submit_code,
    submit_password,
    totp_code,
)

COOKIE = "ervaringswijzer_session"
XSS = '"><svg onload=alert(1)>'
SSTI = "{{7*7}}"
PAYLOAD = f"{XSS} {SSTI}"
ESCAPED_XSS = "&#34;&gt;&lt;svg onload=alert(1)&gt;"
NEW_PASSWORD = "een heel ander wachtwoord voor 2025"


def limit_of(rule: str) -> limits.RateLimitItem:
    """A limit string of survey.limits, parsed ('5 per 15 minutes' → amount 5, 900 s)."""
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


def audit_events(db, action: str) -> list[AuditEvent]:
    db.rollback()
    db.expire_all()
    return list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def is_throttled_page(answer) -> bool:
    text = text_of(answer.get_data(as_text=True))
    return answer.status_code == 429 and "Te veel pogingen" in text and "Too many attempts" in text


def goes_to(answer, path: str) -> bool:
    return answer.status_code == 302 and answer.headers["Location"].endswith(path)


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
    body = answer.get_data(as_text=True).replace(email, "EMAIL")
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]*', r"\1TOKEN", body)


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


# -- 2. sessions and the second factor ---------------------------------------------------------


def cookie(client) -> str:
    found = client.get_cookie(COOKIE)
    assert found is not None, "no session cookie"
    return found.value


def session_contents(app, value: str) -> dict:
    return dict(app.session_interface.get_signing_serializer(app).loads(value))


def sessions_of(db, user: StaffUser) -> int:
    db.rollback()
    db.expire_all()
    return db.scalar(select(func.count()).where(StaffSession.user_id == user.id))


def test_session_cookie_is_renewed_at_sign_in(app, client, db):
    user, password, secret = make_staff(db, "viewer")
    get(client, LOGIN_URL)
    before = cookie(client)
    anonymous = session_contents(app, before)
    assert "csrf_token" in anonymous and "_user_id" not in anonymous
    sign_in(client, user.email, password, secret)
    after = cookie(client)
    assert after != before
    signed_in = session_contents(app, after)
    assert signed_in.get("_user_id")
    # Nothing planted in the anonymous session (here: its CSRF secret) survives the sign-in.
    assert signed_in.get("csrf_token") != anonymous["csrf_token"]
    assert "pending_user" not in signed_in


def test_a_copied_cookie_stops_working_at_sign_out(app, client, db):
    user, password, secret = make_staff(db, "viewer")
    sign_in(client, user.email, password, secret)
    stolen = cookie(client)
    thief = app.test_client()
    thief.set_cookie(COOKIE, stolen)
    assert get(thief, HOME_URL).status_code == 200  # the copy works while the session lives

    assert goes_to(post_form(client, "/staff/logout", {}, page_url=HOME_URL), LOGIN_URL)
    replay = app.test_client()
    replay.set_cookie(COOKIE, stolen)
    assert goes_to(get(replay, HOME_URL), LOGIN_URL)
    assert goes_to(get(thief, HOME_URL), LOGIN_URL)
    assert sessions_of(db, user) == 0


@pytest.mark.parametrize(
    ("column", "age", "still_signed_in"),
    [
        ("last_seen_at", IDLE_TIMEOUT - timedelta(minutes=1), True),
        ("last_seen_at", IDLE_TIMEOUT + timedelta(minutes=1), False),
        ("created_at", ABSOLUTE_TIMEOUT - timedelta(minutes=1), True),
        ("created_at", ABSOLUTE_TIMEOUT + timedelta(minutes=1), False),
    ],
)
def test_idle_and_absolute_timeouts_end_the_session(client, db, column, age, still_signed_in):
    user, password, secret = make_staff(db, "viewer")
    sign_in(client, user.email, password, secret)
    db.execute(
        update(StaffSession).where(StaffSession.user_id == user.id).values({column: utcnow() - age})
    )
    db.commit()
    answer = get(client, HOME_URL)
    if still_signed_in:
        assert answer.status_code == 200
        assert sessions_of(db, user) == 1
    else:
        assert goes_to(answer, LOGIN_URL)
        assert sessions_of(db, user) == 0


def test_a_totp_code_works_once(client, db):
    user, password, secret = make_staff(db, "viewer")
    step = current_step()
    code = totp_code(secret, step)
    assert goes_to(submit_password(client, user.email, password), MFA_URL)
    assert goes_to(submit_code(client, code), HOME_URL)
    assert goes_to(post_form(client, "/staff/logout", {}, page_url=HOME_URL), LOGIN_URL)

    assert goes_to(submit_password(client, user.email, password), MFA_URL)
    replayed = submit_code(client, code)
    assert replayed.status_code == 400
    assert field_error(replayed.get_data(as_text=True), "code") == (
        "Fout: Deze code klopt niet. Wacht op een nieuwe code en probeer het opnieuw."
    )
    assert goes_to(get(client, HOME_URL), LOGIN_URL)
    assert goes_to(submit_code(client, totp_code(secret, step + 1)), HOME_URL)
    assert len(audit_events(db, "sign-in")) == 2


def test_a_wrong_code_is_refused_and_audited(client, db):
    user, password, secret = make_staff(db, "viewer")
    step = current_step()
    valid = {totp_code(secret, s) for s in range(step - 2, step + 3)}
    wrong = next(c for c in (f"{n}" * 6 for n in range(10)) if c not in valid)
    assert goes_to(submit_password(client, user.email, password), MFA_URL)
    answer = submit_code(client, wrong)
    assert answer.status_code == 400
    assert field_error(answer.get_data(as_text=True), "code")
    assert goes_to(get(client, HOME_URL), LOGIN_URL)
    events = audit_events(db, "sign-in failed")
    assert [(e.actor_email, e.detail) for e in events] == [(user.email, "wrong code")]
    assert audit_events(db, "sign-in") == []


def test_the_second_step_cannot_be_skipped(app, client, db):
    user, password, _ = make_staff(db, "admin")
    assert goes_to(submit_password(client, user.email, password), MFA_URL)
    for path in (HOME_URL, "/staff/admin/users", "/staff/admin/audit", "/staff/password"):
        assert goes_to(get(client, path), LOGIN_URL), path
    assert "_user_id" not in session_contents(app, cookie(client))
    assert get(client, MFA_URL).status_code == 200  # still waiting for the code
    assert sessions_of(db, user) == 0


def test_setting_up_the_authenticator_shows_a_qr_code_and_the_key(client, db):
    user, password, _ = make_staff(db, "quality", with_totp=False)
    assert goes_to(submit_password(client, user.email, password), MFA_URL)
    page = get(client, MFA_URL).get_data(as_text=True)
    qr = re.search(r'<img class="qr" src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', page)
    assert qr, "no QR code image"
    svg = base64.b64decode(qr.group(1)).decode("utf-8")
    assert svg.startswith("<svg") and 'xmlns="http://www.w3.org/2000/svg"' in svg[:300], svg[:300]
    secret = enrolment_secret(page)
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert enrolment_secret(get(client, MFA_URL).get_data(as_text=True)) == secret
    db.expire_all()
    assert db.get(StaffUser, user.id).totp_secret is None  # not before the code proves it

    assert goes_to(submit_code(client, totp_code(secret)), HOME_URL)
    db.rollback()
    db.expire_all()
    assert db.get(StaffUser, user.id).totp_secret == secret
    assert [e.actor_email for e in audit_events(db, "mfa set up")] == [user.email]


def test_admin_reset_of_the_authenticator_means_setting_it_up_again(app, db):
    admin_client, _ = signed_in_client(app, db, "admin")
    user, password, old_secret = make_staff(db, "viewer")
    user_client = sign_in(app.test_client(), user.email, password, old_secret)
    answer = post_form(
        admin_client,
        f"/staff/admin/users/{user.id}",
        {"action": "reset_mfa", "role": "viewer"},
        page_url="/staff/admin/users",
    )
    assert goes_to(answer, "/staff/admin/users")
    assert goes_to(get(user_client, HOME_URL), LOGIN_URL)
    assert len(audit_events(db, "user reset mfa")) == 1

    again = app.test_client()
    assert goes_to(submit_password(again, user.email, password), MFA_URL)
    page = get(again, MFA_URL).get_data(as_text=True)
    assert 'src="data:image/svg+xml;base64,' in page
    new_secret = enrolment_secret(page)
    assert new_secret != old_secret
    assert submit_code(again, totp_code(old_secret)).status_code == 400
    assert goes_to(submit_code(again, totp_code(new_secret)), HOME_URL)


def test_changing_the_password_ends_the_other_sessions(app, db):
    user, password, secret = make_staff(db, "viewer")
    laptop = sign_in(app.test_client(), user.email, password, secret)
    phone = sign_in(app.test_client(), user.email, password, secret)
    assert sessions_of(db, user) == 2
    answer = post_form(laptop, "/staff/password", {"current": password, "new": NEW_PASSWORD})
    assert goes_to(answer, LOGIN_URL)
    assert goes_to(get(phone, HOME_URL), LOGIN_URL)
    assert goes_to(get(laptop, HOME_URL), LOGIN_URL)
    assert sessions_of(db, user) == 0
    assert submit_password(app.test_client(), user.email, password).status_code == 401
    sign_in(app.test_client(), user.email, NEW_PASSWORD, secret)


# -- 3. stored XSS and template injection ------------------------------------------------------


def assert_inert(body: str) -> None:
    """No live markup from a payload, and no evaluated template expression."""
    assert "<svg" not in body.lower()
    assert "alert(1)>" not in body.replace("&gt;", "")  # never an unescaped closing bracket


def episodes_file(rows: list[list[str]], header: str = EPISODE_CSV_HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header.split(","))
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def payload_rows(ended: date) -> list[list[str]]:
    day = ended.isoformat()
    return [
        ["X1", day, PAYLOAD, PAYLOAD, "Begeleiding", "15", "", "ouder1@example.org", "nl"],
        ["X2", day, SSTI, XSS, PAYLOAD, "", "", "ouder2@example.org", "en"],
    ]


def upload(client, content: bytes, filename: str = "export.csv"):
    page = get(client, "/staff/admin/import").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "file": (io.BytesIO(content), filename)}
    return request(client, "POST", "/staff/admin/import", data=data)


def shown_text(response) -> str:
    """What a browser would render of a response: a download (XLSX) renders nothing."""
    if not response.mimetype.startswith(("text/", "application/json")):
        return ""
    return response.get_data(as_text=True)


def staff_pages(app) -> list[str]:
    """Every staff page that can be opened without parameters."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/staff") and "GET" in rule.methods and not rule.arguments
    )


def test_comment_payload_comes_back_escaped_in_the_form(client, db):
    _, token = make_invited(db)
    page = get(client, f"/s/{token}").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "usefulness": "7", "comment": PAYLOAD}
    answer = request(client, "POST", f"/s/{token}", data=data)  # the required mark is missing
    assert answer.status_code == 400
    body = answer.get_data(as_text=True)
    assert_inert(body)
    textarea = re.search(r'<textarea name="comment"[^>]*>(.*?)</textarea>', body, re.S)
    assert textarea
    assert ESCAPED_XSS in textarea.group(1) and SSTI in textarea.group(1)
    assert "49" not in textarea.group(1)
    assert html.unescape(textarea.group(1)) == PAYLOAD

    data |= {"csrf_token": csrf_token(body), "self_direction": "8"}
    thanks = request(client, "POST", f"/s/{token}", data=data)
    assert thanks.status_code == 302
    assert_inert(get(client, thanks.headers["Location"]).get_data(as_text=True))
    db.rollback()
    stored = db.scalar(select(ResponseAnswer.value_text).where(ResponseAnswer.item_id == "comment"))
    assert stored == PAYLOAD  # stored as typed: escaping happens where it is shown


def test_uploaded_team_and_municipality_payloads_are_inert(app, db):
    admin, _ = signed_in_client(app, db, "admin")
    content = episodes_file(payload_rows(date.today() - timedelta(days=3)))
    # (Without the quote: the test client would not escape it in the multipart header.)
    answer = upload(admin, content, filename="<svg onload=alert(1)>.csv")
    assert answer.status_code == 200, text_of(answer.get_data(as_text=True))
    assert_inert(answer.get_data(as_text=True))
    assert "Rows read: 2" in text_of(answer.get_data(as_text=True))
    db.rollback()
    stored = set(db.execute(select(Episode.team, Episode.municipality, Episode.care_type)))
    assert stored == {(PAYLOAD, PAYLOAD, "Begeleiding"), (SSTI, XSS, PAYLOAD)}
    for path in staff_pages(app):
        assert_inert(shown_text(get(admin, path)))


def test_a_refused_upload_quotes_bad_values_escaped(app, db):
    admin, _ = signed_in_client(app, db, "admin")
    day = date.today().isoformat()
    rows = [
        ["R1", XSS, "Team", "Soest", "Begeleiding", "", "", "", "nl"],
        ["R2", SSTI, "Team", "Soest", "Begeleiding", "", "", "", "nl"],
        [XSS, day, "Team", "Soest", "Begeleiding", "", "", "", "nl"],
        [XSS, day, "Team", "Soest", "Begeleiding", "", "", "", "nl"],
    ]
    answer = upload(admin, episodes_file(rows))
    assert answer.status_code == 400
    body = answer.get_data(as_text=True)
    assert_inert(body)
    text = text_of(body)
    assert f"'{XSS[:20]}…' is not a date" in text
    assert f"'{SSTI}' is not a date" in text
    assert f"'{XSS}' also on line 4" in text
    assert "'49'" not in text
    assert "&lt;svg onload" in body

    header = f'{EPISODE_CSV_HEADER},"{XSS.replace(chr(34), chr(34) * 2)}",{SSTI}'
    answer = upload(admin, f"{header}\n".encode())
    assert answer.status_code == 400
    body = answer.get_data(as_text=True)
    assert_inert(body)
    columns = [html.unescape(c) for c in re.findall(r"<tr><td>1</td><td>(.*?)</td>", body)]
    assert XSS in columns and SSTI in columns
    db.rollback()
    assert db.scalar(select(func.count(Episode.id))) == 0
    assert_inert(get(admin, "/staff/admin/audit").get_data(as_text=True))


def test_payloads_imported_on_the_command_line_stay_out_of_pages_and_emails(
    app, runner, db, tmp_path
):
    today = date.today()
    path = tmp_path / "export.csv"
    path.write_bytes(episodes_file(payload_rows(today - timedelta(days=3))))
    imported = runner.invoke(args=["import-episodes", str(path)])
    assert imported.exit_code == 0, imported.output
    sent = runner.invoke(args=["send", "--today", today.isoformat()])
    assert sent.exit_code == 0, sent.output

    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    for file in files:
        message = message_from_bytes(file.read_bytes(), policy=policy.default)
        bodies = parts(message)
        assert set(bodies) == {"plain", "html"}
        for body in (*bodies.values(), str(message["Subject"])):
            assert "svg" not in body and "alert(" not in body and SSTI not in body
    admin, _ = signed_in_client(app, db, "admin")
    for page in staff_pages(app):
        assert_inert(shown_text(get(admin, page)))


def test_staff_emails_cannot_carry_markup_and_template_text_stays_text(app, runner, db):
    admin, _ = signed_in_client(app, db, "admin")
    strong = "een lang en sterk wachtwoord"
    refused = post_form(
        admin,
        "/staff/admin/users",
        {"email": f"{XSS}@example.org", "role": "viewer", "password": strong},
    )
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert_inert(body)
    assert field_error(body, "email") == "Fout: Dit is geen geldig e-mailadres."
    assert ESCAPED_XSS in body  # the typed value is shown back, as text
    cli = runner.invoke(
        args=["users", "create", f"{XSS}@example.org", "--role", "viewer", "--password-stdin"],
        input=f"{strong}\n",
    )
    assert cli.exit_code == 1 and "not a valid email address" in cli.output
    db.rollback()
    assert db.scalar(select(func.count()).where(StaffUser.email.contains("svg"))) == 0

    # Braces are allowed in an address: they must show as typed, never evaluated.
    templated = f"{SSTI}@example.org"
    created = post_form(
        admin, "/staff/admin/users", {"email": templated, "role": "viewer", "password": strong}
    )
    assert goes_to(created, "/staff/admin/users")
    users_page = get(admin, "/staff/admin/users").get_data(as_text=True)
    assert f"<td>{templated}</td>" in users_page
    assert "49@example.org" not in users_page
    signing_in = app.test_client()
    failed = submit_password(signing_in, templated, "niet het goede wachtwoord")
    assert failed.status_code == 401
    assert_inert(
        submit_password(signing_in, XSS, "niet het goede wachtwoord").get_data(as_text=True)
    )
    audit_page = get(admin, "/staff/admin/audit").get_data(as_text=True)
    assert_inert(audit_page)
    assert f"<td>{templated}</td>" in audit_page and "49@example.org" not in audit_page


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
