"""Staff access: every /staff route for every role, CSRF on every POST, the admin pages at work.

The role × route matrix is generated from the app's url_map and `survey.staff.permissions`, so a
new /staff route without a rule fails here, and a role change in the table changes what is
expected. Requests go through `tests.staff_helpers` (a fresh application context per request).
"""

from __future__ import annotations

import io
import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher, extract_parameters
from argon2.profiles import RFC_9106_LOW_MEMORY
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from survey import create_app
from survey.db import Base, get_engine
from survey.limits import limiter
from survey.models import (
    STAFF_ROLES,
    AuditEvent,
    Comment,
    Episode,
    Invitation,
    MailSuppression,
    Response,
    StaffSession,
    StaffUser,
)
from survey.staff import passwords
from survey.staff.permissions import PUBLIC, RULES
from tests.conftest import BACKENDS, PUBLIC_BASE_URL, make_test_app, service_missing
from tests.factories import EPISODE_CSV_HEADER, make_comment, make_invitation, make_invited
from tests.pages import csrf_token, field_error, text_of
from tests.staff_helpers import (
    HOME_URL,
    LOGIN_URL,
    MFA_URL,
    URL_FORMATS,
    database,
    fresh_code,
    get,
    make_staff,
    request,
    sign_in,
    signed_in_client,
    submit_password,
)

PRODUCTION_HASHER = passwords._hasher  # before `fast_hashing` swaps it
ROLES = ("anonymous", "viewer", "quality", "communications", "admin")
FORBIDDEN_TEXT = ("Geen toegang", "No access")
GENERIC_400_TEXT = "Er ging iets mis met het verzoek"


def staff_routes(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, rule, method) for every GET and POST of every rule under /staff."""
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule == "/staff" or rule.rule.startswith("/staff/"):
            for method in (rule.methods or set()) & {"GET", "POST"}:
                routes.add((rule.endpoint, rule.rule, method))
    return sorted(routes)


def post_routes(app: Flask) -> set[str]:
    """Every endpoint of the whole app that accepts POST."""
    return {rule.endpoint for rule in app.url_map.iter_rules() if "POST" in (rule.methods or ())}


# Only the url_map is read from this app; it never opens its (in-memory) database.
_ROUTE_APP = create_app(
    {
        "TESTING": True,
        "SECRET_KEY": "route listing",
        "DATABASE_URL": "sqlite://",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
    }
)
STAFF_ROUTES = staff_routes(_ROUTE_APP)
ALL_POST_ENDPOINTS = post_routes(_ROUTE_APP)


def fill(rule: str, values: dict[str, object]) -> str:
    """The URL of `rule` with its arguments (`<int:user_id>`) taken from `values`."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            pytest.fail(f"no test value for URL argument <{name}> of {rule}: add one")
        value = values[name]
        return str(value[rule] if isinstance(value, dict) else value)

    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", value, rule)


def login_redirect(answer: object) -> bool:
    """Whether an answer sends the browser to the sign-in page."""
    location = answer.headers.get("Location", "")  # type: ignore[attr-defined]
    return answer.status_code == 302 and urlsplit(location).path == LOGIN_URL  # type: ignore[attr-defined]


@pytest.fixture(scope="module", autouse=True)
def fast_hashing() -> Iterator[None]:
    """Cheap argon2id parameters here: these tests count sign-ins, not hashing cost.

    `test_users_create_makes_an_account_with_an_argon2id_hash` checks the real parameters.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
        yield


# -- the role × route matrix --------------------------------------------------------------------


def test_every_staff_route_has_a_rule_in_the_permission_table() -> None:
    endpoints = {endpoint for endpoint, _, _ in STAFF_ROUTES}
    missing = sorted(endpoints - set(RULES) - PUBLIC)
    assert not missing, f"/staff routes without a rule in survey.staff.permissions: {missing}"
    stale = sorted(set(RULES) - {rule.endpoint for rule in _ROUTE_APP.url_map.iter_rules()})
    assert not stale, f"rules for endpoints that do not exist: {stale}"
    assert not set(RULES) & PUBLIC


@pytest.fixture(scope="module", params=BACKENDS)
def matrix_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A database for the whole matrix (its own PostgreSQL schema: other tests truncate theirs)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'matrix.db'}"
        engine = create_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url
        return
    base_url = os.environ.get("TEST_DATABASE_URL")
    if not base_url:
        service_missing("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    schema = f"matrix_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # unreachable: same meaning as in conftest
        admin.dispose()
        service_missing(f"PostgreSQL unreachable: {type(exc).__name__}")
    url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    engine = create_engine(url_text)
    Base.metadata.create_all(engine)
    engine.dispose()
    yield url_text
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@dataclass
class Matrix:
    """One app per backend with a signed-in client (and its CSRF token) per role."""

    app: Flask
    accounts: dict[str, tuple[StaffUser, str, str | None]]
    clients: dict[str, FlaskClient] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    url_values: dict[str, object] = field(default_factory=dict)


@pytest.fixture(scope="module")
def matrix(matrix_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    app = make_test_app(matrix_database, tmp_path_factory.mktemp("matrix-mail"))
    with database(app) as db:
        accounts = {role: make_staff(db, role) for role in STAFF_ROLES}
        target = make_staff(db, "viewer")[0]
        comment = make_comment(db, "Fijne hulp, dank jullie wel.")
    values = {"user_id": target.id, "name": "trend", "fmt": URL_FORMATS, "response_id": comment}
    matrix = Matrix(app, accounts, url_values=values)
    anonymous = app.test_client()
    matrix.clients["anonymous"] = anonymous
    matrix.tokens["anonymous"] = csrf_token(get(anonymous, LOGIN_URL).text)
    for role, (user, password, secret) in accounts.items():
        client = sign_in(app.test_client(), user.email, password, secret)
        matrix.clients[role] = client
        matrix.tokens[role] = csrf_token(get(client, HOME_URL).text)
    yield matrix
    app.extensions["db_engine"].dispose()


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    ("endpoint", "rule", "method"), STAFF_ROUTES, ids=[f"{m} {r}" for _, r, m in STAFF_ROUTES]
)
def test_route_answers_each_role_as_the_permission_table_says(
    matrix: Matrix, endpoint: str, rule: str, method: str, role: str
) -> None:
    if endpoint not in RULES and endpoint not in PUBLIC:
        pytest.fail(f"{endpoint} ({rule}) has no rule in survey.staff.permissions")
    limiter.reset()  # the matrix posts to the sign-in pages more often than a person would
    client, token = matrix.clients[role], matrix.tokens[role]
    if endpoint == "staff.logout" and role != "anonymous":
        user, password, secret = matrix.accounts[role]  # a session of its own to end
        client = sign_in(matrix.app.test_client(), user.email, password, secret)
        token = csrf_token(get(client, HOME_URL).text)
    url = fill(rule, matrix.url_values)
    data = {"csrf_token": token} if method == "POST" else None
    answer = request(client, method, url, data=data)
    binary = not answer.mimetype.startswith(("text/", "application/json"))
    page = "(a download)" if binary else answer.get_data(as_text=True)

    assert answer.status_code < 500, page
    if endpoint in PUBLIC:
        assert answer.status_code != 403
    elif role == "anonymous":
        assert login_redirect(answer), (answer.status_code, answer.headers.get("Location"))
    elif role not in RULES[endpoint]:
        assert answer.status_code == 403
        assert all(words in text_of(page) for words in FORBIDDEN_TEXT)
    elif endpoint == "staff.logout":
        assert login_redirect(answer)
        assert login_redirect(get(client, HOME_URL)), "signing out must end the session"
    elif method == "GET":
        assert answer.status_code == 200
    else:
        assert answer.status_code in range(200, 400) or answer.status_code == 400
        assert not login_redirect(answer)
        # A 400 must be the form's own validation answer, not a refused CSRF token.
        assert GENERIC_400_TEXT not in page


# -- CSRF ---------------------------------------------------------------------------------------

STRONG_PASSWORD = "een heel ander lang wachtwoord 77"
YESTERDAY = date.today() - timedelta(days=1)
GOOD_CSV = (
    f"{EPISODE_CSV_HEADER}\n"
    f"E1,{YESTERDAY},Team Soest,Soest,Begeleiding,15,jongere@example.org,ouder@example.org,nl\n"
    f"E2,{YESTERDAY},Team Leusden,Leusden,Behandeling,,,ouder2@example.org,en\n"
)


@dataclass
class Attempt:
    """A POST that would change something, made by `client` from the form at `page`."""

    client: FlaskClient
    url: str
    page: str
    data: Callable[[], dict[str, object]] = dict


def _admin(app: Flask) -> FlaskClient:
    return signed_in_client(app, None, "admin")[0]


def _csrf_login(app: Flask) -> Attempt:
    with database(app) as db:
        user, password, _ = make_staff(db, "admin")
    data = {"email": user.email, "password": password}
    return Attempt(app.test_client(), LOGIN_URL, LOGIN_URL, lambda: data)


def _csrf_mfa(app: Flask) -> Attempt:
    with database(app) as db:
        user, password, secret = make_staff(db, "admin")
    client = app.test_client()
    assert submit_password(client, user.email, password).status_code == 302
    code = fresh_code(client, user.email, secret)
    return Attempt(client, MFA_URL, MFA_URL, lambda: {"code": code})


def _csrf_logout(app: Flask) -> Attempt:
    return Attempt(_admin(app), "/staff/logout", HOME_URL)


def _csrf_password(app: Flask) -> Attempt:
    with database(app) as db:
        user, password, secret = make_staff(db, "quality")
    client = sign_in(app.test_client(), user.email, password, secret)
    data = {"current": password, "new": STRONG_PASSWORD}
    return Attempt(client, "/staff/password", "/staff/password", lambda: data)


def _csrf_import(app: Flask) -> Attempt:
    def data() -> dict[str, object]:
        return {"file": (io.BytesIO(GOOD_CSV.encode()), "episodes.csv")}

    return Attempt(_admin(app), "/staff/admin/import", "/staff/admin/import", data)


def _csrf_send(app: Flask) -> Attempt:
    with database(app) as db:
        make_invitation(db)
        db.commit()
    return Attempt(_admin(app), "/staff/admin/send", "/staff/admin/outbox")


def _csrf_new_user(app: Flask) -> Attempt:
    data = {"email": "nieuw@example.org", "role": "viewer", "password": STRONG_PASSWORD}
    return Attempt(_admin(app), "/staff/admin/users", "/staff/admin/users", lambda: data)


def _csrf_update_user(app: Flask) -> Attempt:
    with database(app) as db:
        target = make_staff(db, "viewer")[0]
    data = {"action": "set_role", "role": "quality"}
    url = f"/staff/admin/users/{target.id}"
    return Attempt(_admin(app), url, "/staff/admin/users", lambda: data)


def _csrf_questionnaire(app: Flask) -> Attempt:
    with database(app) as db:
        _, token = make_invited(db)
    data = {"self_direction": "8", "usefulness": "7"}
    return Attempt(app.test_client(), f"/s/{token}", f"/s/{token}", lambda: data)


def _csrf_opt_out(app: Flask) -> Attempt:
    with database(app) as db:
        _, token = make_invited(db)
    return Attempt(app.test_client(), f"/afmelden/{token}", f"/afmelden/{token}")


def _csrf_quote(app: Flask) -> Attempt:
    with database(app) as db:
        quote = make_comment(db, "Fijne hulp gehad.")
        db.get(Comment, quote).deidentified_text = "Fijne hulp gehad."  # as the worker does
        db.commit()
    client = signed_in_client(app, None, "communications")[0]
    data = {"action": "approve", "text": "Fijne hulp gehad."}
    return Attempt(client, f"/staff/quotes/{quote}", "/staff/quotes/", lambda: data)


CSRF_ATTEMPTS: dict[str, Callable[[Flask], Attempt]] = {
    "staff.login": _csrf_login,
    "staff.mfa": _csrf_mfa,
    "staff.logout": _csrf_logout,
    "staff.password": _csrf_password,
    "admin.import_episodes_page": _csrf_import,
    "admin.send": _csrf_send,
    "admin.users": _csrf_new_user,
    "admin.update_user": _csrf_update_user,
    "respond.questionnaire": _csrf_questionnaire,
    "respond.unsubscribe": _csrf_opt_out,
    "quotes.decide": _csrf_quote,
}


def test_every_post_route_has_a_csrf_check_here() -> None:
    assert set(CSRF_ATTEMPTS) == ALL_POST_ENDPOINTS


def snapshot(app: Flask) -> dict[str, list[str]]:
    """Every row of every table: what 'changes nothing' is compared against."""
    with app.app_context(), get_engine().connect() as connection:
        return {
            table.name: sorted(repr(tuple(row)) for row in connection.execute(table.select()))
            for table in Base.metadata.sorted_tables
        }


def session_state(client: FlaskClient) -> tuple[int, int]:
    """What the client's own session allows: the start page, the code page (signed-in, pending)."""
    return get(client, HOME_URL).status_code, get(client, MFA_URL).status_code


def foreign_token(app: Flask, attempt: Attempt) -> str:
    """A valid CSRF token of another session: another visitor's copy of the same public page,
    or the start page of another staff member."""
    if attempt.page.startswith("/staff"):
        other = signed_in_client(app, None, "viewer")[0]
        return csrf_token(get(other, HOME_URL).text)
    return csrf_token(get(app.test_client(), attempt.page).text)


@pytest.mark.parametrize("token", ["missing", "foreign"])
@pytest.mark.parametrize("endpoint", sorted(CSRF_ATTEMPTS))
def test_post_without_its_own_csrf_token_is_refused_and_changes_nothing(
    app: Flask, endpoint: str, token: str
) -> None:
    attempt = CSRF_ATTEMPTS[endpoint](app)
    data = attempt.data()
    if token == "foreign":
        data["csrf_token"] = foreign_token(app, attempt)
    before = snapshot(app), session_state(attempt.client)

    refused = request(attempt.client, "POST", attempt.url, data=data)

    assert refused.status_code == 400
    assert (snapshot(app), session_state(attempt.client)) == before
    page = refused.get_data(as_text=True)
    if endpoint == "respond.questionnaire":
        # The family gets the answers page back, its mark kept, and nothing is stored.
        assert 'value="8" checked' in page
        with database(app) as db:
            assert db.scalar(select(func.count(Response.id))) == 0
    # The same POST with the page's own token does change something: the check above can fail.
    own = {**attempt.data(), "csrf_token": csrf_token(get(attempt.client, attempt.page).text)}
    accepted = request(attempt.client, "POST", attempt.url, data=own)
    assert accepted.status_code in (200, 302), accepted.get_data(as_text=True)
    assert (snapshot(app), session_state(attempt.client)) != before


def test_refused_csrf_changes_none_of_the_named_things(app: Flask) -> None:
    """The brief's list, spelled out once: no user, no audit, no import, no role, no opt-out."""
    admin = _admin(app)
    with database(app) as db:
        target = make_staff(db, "viewer")[0]
        _, survey_token = make_invited(db)
    posts = [
        ("/staff/admin/users", {"email": "x@example.org", "role": "admin", "password": "a" * 20}),
        (f"/staff/admin/users/{target.id}", {"action": "set_role", "role": "admin"}),
        ("/staff/admin/import", {"file": (io.BytesIO(GOOD_CSV.encode()), "e.csv")}),
    ]
    for url, data in posts:
        assert request(admin, "POST", url, data=data).status_code == 400
    anonymous = app.test_client()
    assert request(anonymous, "POST", f"/afmelden/{survey_token}").status_code == 400
    with database(app) as db:
        assert db.scalar(select(func.count(StaffUser.id))) == 2
        assert db.get(StaffUser, target.id).role == "viewer"
        assert db.scalar(select(func.count(Episode.id))) == 1  # the survey's own episode
        assert db.scalar(select(func.count(MailSuppression.address_hash))) == 0
        assert db.scalar(select(func.count(Invitation.opted_out_at))) == 0
        actions = set(db.scalars(select(AuditEvent.action)))
        assert not actions & {"user created", "user set role", "import", "import refused"}


# -- admin pages through real POSTs ---------------------------------------------------------------


def post_page(client: FlaskClient, url: str, data: dict[str, object], page: str | None = None):
    """POST `data` with the CSRF token of the form at `page` (default `url`), as a browser does."""
    token = csrf_token(get(client, page or url).text)
    return request(client, "POST", url, data={**data, "csrf_token": token})


def upload(client: FlaskClient, content: str):
    file = (io.BytesIO(content.encode("utf-8")), "episodes.csv")
    return post_page(client, "/staff/admin/import", {"file": file})


def error_rows(page: str) -> list[tuple[str, str, str]]:
    """(line, column, problem) of every row in the import's table of problems."""
    table = re.search(r'<table class="errors">(.*?)</table>', page, flags=re.S)
    assert table, "no table of problems on the page"
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>", table.group(1))
    return [(text_of(a), text_of(b), text_of(c)) for a, b, c in rows]


def audit_events(app: Flask) -> list[AuditEvent]:
    with database(app) as db:
        return list(db.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def counts(app: Flask) -> tuple[int, int]:
    with database(app) as db:
        return (
            db.scalar(select(func.count(Episode.id))),
            db.scalar(select(func.count(Invitation.id))),
        )


def test_import_with_three_bad_rows_lists_each_by_line_and_column_and_saves_nothing(
    app: Flask,
) -> None:
    admin = _admin(app)
    content = (
        f"{EPISODE_CSV_HEADER}\n"
        f"G1,{YESTERDAY},Team Soest,Soest,Begeleiding,15,,ouder@example.org,nl\n"
        f"B1,31-02-2026,Team Soest,Soest,Begeleiding,15,,ouder1@example.org,nl\n"
        f"B2,{YESTERDAY},Team Soest,Soest,Begeleiding,99,,ouder2@example.org,nl\n"
        f"B3,{YESTERDAY},Team Soest,Soest,Begeleiding,15,,ouder3@example.org,de\n"
    )
    answer = upload(admin, content)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400
    problems = error_rows(page)
    assert [(line, column) for line, column, _ in problems] == [
        ("3", "end_date"),
        ("4", "youth_age"),
        ("5", "language"),
    ]
    assert all(problem for _, _, problem in problems)
    assert counts(app) == (0, 0)
    assert "import" not in {event.action for event in audit_events(app)}


def test_good_import_shows_the_summary_creates_invitations_and_is_audited(app: Flask) -> None:
    admin, user = signed_in_client(app, None, "admin")
    answer = upload(admin, GOOD_CSV)
    assert answer.status_code == 200
    summary = text_of(re.search(r'<pre class="summary">(.*?)</pre>', answer.text, re.S).group(1))
    assert "2" in summary and "3" in summary
    assert counts(app) == (2, 3)
    imports = [event for event in audit_events(app) if event.action == "import"]
    assert [(event.actor_id, event.actor_email, event.ip) for event in imports] == [
        (user.id, user.email, "127.0.0.1")
    ]


def test_send_now_queues_and_delivers_the_invitations_as_files(app: Flask) -> None:
    admin = _admin(app)
    assert upload(admin, GOOD_CSV).status_code == 200
    answer = post_page(admin, "/staff/admin/send", {}, page="/staff/admin/outbox")
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/staff/admin/outbox"
    outbox = Path(app.config["MAIL_FILE_DIR"])
    assert len(list(outbox.glob("**/*.eml"))) == 3
    with database(app) as db:
        assert db.scalar(select(func.count(Invitation.id)).where(Invitation.sent_at.is_(None))) == 0
    assert [event.action for event in audit_events(app)].count("send") == 1
    assert "3" in text_of(get(admin, "/staff/admin/outbox").text)


def new_account(client: FlaskClient, email: str, password: str, role: str = "quality"):
    data = {"email": email, "role": role, "password": password}
    return post_page(client, "/staff/admin/users", data)


def test_admin_creates_an_account_that_can_sign_in(app: Flask) -> None:
    admin = _admin(app)
    answer = new_account(admin, "Nieuw.Lid@Example.org", STRONG_PASSWORD)
    assert answer.status_code == 302
    with database(app) as db:
        user = db.scalars(select(StaffUser).where(StaffUser.email == "nieuw.lid@example.org")).one()
        assert (user.role, user.active, user.totp_secret) == ("quality", True, None)
        assert user.password_hash.startswith("$argon2id$")
    assert "nieuw.lid@example.org" in get(admin, "/staff/admin/users").text
    created = [event for event in audit_events(app) if event.action == "user created"]
    assert [(event.object_type, event.object_id) for event in created] == [("user", str(user.id))]
    # The first sign-in enrols the authenticator app.
    sign_in(app.test_client(), "nieuw.lid@example.org", STRONG_PASSWORD)


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("kort maar 1", "Gebruik minstens 12 tekens."),
        ("qwerty123456", "Dit wachtwoord wordt te vaak gebruikt. Kies een ander wachtwoord."),
        ("x" * 129, "Gebruik hoogstens 128 tekens."),
    ],
    ids=["too-short", "common", "too-long"],
)
def test_weak_password_is_refused_next_to_the_field(app: Flask, password: str, message: str):
    admin = _admin(app)
    answer = new_account(admin, "nieuw@example.org", password)
    assert answer.status_code == 400
    assert field_error(answer.text, "password") == f"Fout: {message}"
    with database(app) as db:
        assert db.scalar(select(func.count(StaffUser.id))) == 1


def test_duplicate_email_is_refused_next_to_the_field(app: Flask) -> None:
    admin, user = signed_in_client(app, None, "admin")
    answer = new_account(admin, user.email.upper(), STRONG_PASSWORD)
    assert answer.status_code == 400
    assert "Er is al een account met dit e-mailadres." in (field_error(answer.text, "email") or "")
    with database(app) as db:
        assert db.scalar(select(func.count(StaffUser.id))) == 1


def update(admin: FlaskClient, user_id: int, action: str, role: str = "viewer"):
    data = {"action": action, "role": role}
    return post_page(admin, f"/staff/admin/users/{user_id}", data, page="/staff/admin/users")


def test_role_change_takes_effect_and_ends_the_users_sessions(app: Flask) -> None:
    admin = _admin(app)
    with database(app) as db:
        user, password, secret = make_staff(db, "viewer")
    colleague = sign_in(app.test_client(), user.email, password, secret)
    assert get(colleague, "/staff/admin/users").status_code == 403
    assert update(admin, user.id, "set_role", "admin").status_code == 302
    assert login_redirect(get(colleague, HOME_URL))
    sign_in(colleague, user.email, password, secret)
    assert get(colleague, "/staff/admin/users").status_code == 200


def test_deactivation_ends_the_users_sessions_and_sign_in(app: Flask) -> None:
    admin = _admin(app)
    with database(app) as db:
        user, password, secret = make_staff(db, "quality")
    colleague = sign_in(app.test_client(), user.email, password, secret)
    assert get(colleague, HOME_URL).status_code == 200
    assert update(admin, user.id, "deactivate").status_code == 302
    assert login_redirect(get(colleague, HOME_URL))
    with database(app) as db:
        assert db.scalar(select(func.count()).where(StaffSession.user_id == user.id)) == 0
    assert submit_password(app.test_client(), user.email, password).status_code == 401


def test_mfa_reset_makes_the_user_enrol_again(app: Flask) -> None:
    admin = _admin(app)
    with database(app) as db:
        user, password, secret = make_staff(db, "communications")
    colleague = sign_in(app.test_client(), user.email, password, secret)
    assert update(admin, user.id, "reset_mfa").status_code == 302
    assert login_redirect(get(colleague, HOME_URL))
    with database(app) as db:
        assert db.get(StaffUser, user.id).totp_secret is None
    fresh = app.test_client()
    assert submit_password(fresh, user.email, password).status_code == 302
    assert '<code class="secret">' in get(fresh, MFA_URL).text


def audit_rows(page: str) -> list[list[str]]:
    body = re.search(r"<tbody>(.*?)</tbody>", page, flags=re.S)
    assert body
    rows = re.findall(r"<tr>(.*?)</tr>", body.group(1), flags=re.S)
    return [
        [text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows
    ]


def test_audit_log_page_shows_who_did_what_to_which_object_from_where(app: Flask) -> None:
    admin, me = signed_in_client(app, None, "admin")
    with database(app) as db:
        user = make_staff(db, "viewer")[0]
    assert upload(admin, GOOD_CSV).status_code == 200
    assert post_page(admin, "/staff/admin/send", {}, page="/staff/admin/outbox").status_code == 302
    assert new_account(admin, "nieuw@example.org", STRONG_PASSWORD).status_code == 302
    for action in ("set_role", "reset_mfa", "deactivate"):
        assert update(admin, user.id, action, "quality").status_code == 302
    rows = audit_rows(get(admin, "/staff/admin/audit").text)
    seen = {row[2]: row for row in rows}
    for action in ("import", "send", "user created", "user set role", "user reset mfa"):
        assert action in seen, (action, rows)
        assert seen[action][1] == me.email
        assert seen[action][4] == "127.0.0.1"
    for action in ("user set role", "user reset mfa", "user deactivate"):
        assert seen[action][3] == f"user {user.id}"
    assert seen["sign-in"][1] == me.email


def test_audit_events_never_hold_a_password_token_secret_or_free_text(app: Flask) -> None:
    admin = _admin(app)
    secrets_seen: list[str] = [STRONG_PASSWORD, "fout wachtwoord 123", "onbekend@example.org"]
    with database(app) as db:
        user, password, secret = make_staff(db, "quality")
        _, survey_token = make_invited(db, email="familie@example.org")
    secrets_seen += [password, secret, survey_token, "familie@example.org"]
    # A wrong password, an unknown account, a wrong code.
    submit_password(app.test_client(), user.email, "fout wachtwoord 123")
    submit_password(app.test_client(), "onbekend@example.org", password)
    # Staff work: an account, an import, sending, a password change, an MFA reset.
    assert new_account(admin, "nieuw@example.org", STRONG_PASSWORD).status_code == 302
    assert upload(admin, GOOD_CSV).status_code == 200
    assert post_page(admin, "/staff/admin/send", {}, page="/staff/admin/outbox").status_code == 302
    colleague = sign_in(app.test_client(), user.email, password, secret)
    cookie = colleague.get_cookie(app.config["SESSION_COOKIE_NAME"])
    session = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    secrets_seen.append(session["_user_id"])  # the raw server-side session id
    change = {"current": password, "new": "nog een ander wachtwoord 55"}
    assert post_page(colleague, "/staff/password", change).status_code == 302
    secrets_seen.append("nog een ander wachtwoord 55")
    # A family answers, with a comment.
    comment = "Mijn begeleider Sanne luisterde echt naar mij"
    family = app.test_client()
    answers = {"self_direction": "9", "usefulness": "8", "comment": comment}
    answers["csrf_token"] = csrf_token(get(family, f"/s/{survey_token}").text)
    assert request(family, "POST", f"/s/{survey_token}", data=answers).status_code == 302
    secrets_seen.append(comment)
    for outgoing in Path(app.config["MAIL_FILE_DIR"]).glob("**/*.eml"):
        secrets_seen += re.findall(r"/s/([A-Za-z0-9_-]{20,})", outgoing.read_text())

    with app.app_context(), get_engine().connect() as connection:
        rows = connection.execute(AuditEvent.__table__.select()).all()
    assert len(rows) >= 8
    cells = [str(cell).lower() for row in rows for cell in row if cell is not None]
    for secret_value in secrets_seen:
        leaked = [cell for cell in cells if secret_value.lower() in cell]
        assert not leaked, f"{secret_value!r} stored in the audit log: {leaked}"


# -- `ervaringswijzer users create` ---------------------------------------------------------------


def create_on_command_line(runner, email: str, password: str, role: str = "quality"):
    args = ["users", "create", email, "--role", role, "--password-stdin"]
    return runner.invoke(args=args, input=f"{password}\n")


def test_users_create_makes_an_account_with_an_argon2id_hash(
    app: Flask, runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(passwords, "_hasher", PRODUCTION_HASHER)
    result = create_on_command_line(runner, "Kwaliteit@Example.org", STRONG_PASSWORD)
    assert result.exit_code == 0, result.output
    assert "kwaliteit@example.org" in result.output
    with database(app) as db:
        user = db.scalars(select(StaffUser)).one()
        created = db.scalars(select(AuditEvent).where(AuditEvent.action == "user created")).one()
    assert (user.email, user.role, user.active) == ("kwaliteit@example.org", "quality", True)
    assert user.password_hash.startswith("$argon2id$")
    # argon2-cffi's default profile (RFC 9106, low memory: t=3, m=64 MiB, p=4).
    assert extract_parameters(user.password_hash) == RFC_9106_LOW_MEMORY
    assert STRONG_PASSWORD not in user.password_hash
    assert (created.object_type, created.object_id) == ("user", str(user.id))
    sign_in(app.test_client(), "kwaliteit@example.org", STRONG_PASSWORD)


@pytest.mark.parametrize(
    ("email", "password", "message"),
    [
        ("nieuw@example.org", "elf tekens!", "Password refused: use at least 12 characters."),
        ("nieuw@example.org", "a" * 129, "Password refused: use at most 128 characters."),
        ("nieuw@example.org", "Qwerty123456", "Password refused: it is on the list"),
        ("geen adres", STRONG_PASSWORD, "Account refused: not a valid email address."),
        ("BESTAAND@example.org", STRONG_PASSWORD, "Account refused: the account exists."),
    ],
    ids=["11-chars", "129-chars", "common", "bad-email", "duplicate"],
)
def test_users_create_refuses_with_exit_code_1_and_a_clear_message(
    app: Flask, runner, email: str, password: str, message: str
) -> None:
    assert create_on_command_line(runner, "bestaand@example.org", STRONG_PASSWORD).exit_code == 0
    result = create_on_command_line(runner, email, password)
    assert result.exit_code == 1
    assert message in result.stderr
    assert password not in result.output
    with database(app) as db:
        assert db.scalar(select(func.count(StaffUser.id))) == 1
