"""Staff access by role and scope: every /staff route for every kind of account, as the
permission table says.

The route × role × scope matrix is generated from the app's url_map and
`survey.accounts.permissions`, so a new /staff route without a rule fails here, and a change in
the table changes what is expected. The kinds of account: anonymous, each role for the whole
region, the two roles a municipality's account may have ("viewer@Soest") and each role of a
provider's account ("quality+kompas"; its admin only reads its own staff's audit log). The
matrix's one comment is another provider's (MetMaya's): a Kompas account that asks for it by URL
gets a 404, never the comment. Requests go through `tests.staff_helpers` (a fresh application
context per request).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine

from survey.accounts.permissions import PUBLIC, RULES, allowed
from survey.db import Base
from survey.enums import Role, ScopedRole
from survey.models import Provider, StaffUser
from survey.region.operations import add_municipality
from survey.web.limits import limiter
from tests.conftest import BACKENDS, make_test_app, postgres_schema
from tests.factories import make_comment
from tests.pages import csrf_token, text_of
from tests.staff_helpers import (
    HOME_URL,
    LOGIN_URL,
    URL_FORMATS,
    database,
    fast_hashing,  # noqa: F401  (the fixture)
    fill,
    get,
    login_redirect,
    make_staff,
    request,
    route_app,  # noqa: F401  (the fixture)
    sign_in,
    staff_routes,
)

SCOPED = "@Soest"  # an account limited to municipality Soest
PROVIDER = "+kompas"  # an account limited to provider Kompas
ROLES = (
    "anonymous",
    "viewer",
    "quality",
    "communications",
    "admin",
    *(f"{role}{SCOPED}" for role in ScopedRole),
    *(f"{role}{PROVIDER}" for role in Role),
)
FORBIDDEN_TEXT = ("Geen toegang", "No access")
GENERIC_400_TEXT = "Er ging iets mis met het verzoek"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """The matrix: per backend, every route of the url_map of an app made for reading it (at
    collection, not at import), for every role (ids read "sqlite-GET /staff/-viewer")."""
    if "rule" in metafunc.fixturenames:
        metafunc.parametrize("matrix_database", BACKENDS, indirect=True, scope="module")
        routes = staff_routes()
        ids = [f"{m} {r}" for _, r, m in routes]
        metafunc.parametrize(("endpoint", "rule", "method"), routes, ids=ids)
        metafunc.parametrize("role", ROLES)


def may(account: str, endpoint: str) -> bool:
    """What the permission table allows an account of the matrix ("viewer@Soest",
    "quality+kompas")."""
    account, _, provider = account.partition("+")
    role, _, municipality = account.partition("@")
    return allowed(endpoint, role, municipality or None, provider or None)


# -- the role × route matrix --------------------------------------------------------------------


def test_every_staff_route_has_a_rule_in_the_permission_table(route_app: Flask) -> None:  # noqa: F811
    endpoints = {endpoint for endpoint, _, _ in staff_routes()}
    missing = sorted(endpoints - set(RULES) - PUBLIC)
    assert not missing, f"/staff routes without a rule in survey.accounts.permissions: {missing}"
    stale = sorted(set(RULES) - {rule.endpoint for rule in route_app.url_map.iter_rules()})
    assert not stale, f"rules for endpoints that do not exist: {stale}"
    assert not set(RULES) & PUBLIC


@pytest.fixture(scope="module")
def matrix_database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A database for the whole matrix, per backend (parametrized in `pytest_generate_tests`;
    its own PostgreSQL schema: other tests truncate theirs)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'matrix.db'}"
        engine = create_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url
        return
    with postgres_schema("matrix") as url:
        yield url


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
        add_municipality(db, "Soest")
        accounts = {role: make_staff(db, role) for role in Role}
        for role in ScopedRole:
            accounts[f"{role}{SCOPED}"] = make_staff(db, role, municipality="Soest")
        db.add(Provider(slug="kompas", name="Jeugdzorg Kompas"))
        db.commit()
        for role in Role:
            accounts[f"{role}{PROVIDER}"] = make_staff(db, role, provider="kompas")
        target = make_staff(db, "viewer")[0]
        comment = make_comment(db, "Fijne hulp, dank jullie wel.")
    values = {"user_id": target.id, "name": "trend", "fmt": URL_FORMATS, "response_id": comment}
    values["token"] = "een-link-die-niet-bestaat"  # /staff/link/<token>: an unknown link
    values["passkey_id"] = 999_999  # none of the account's passkeys: refused, nothing removed
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


def test_route_answers_each_role_as_the_permission_table_says(
    matrix: Matrix, endpoint: str, rule: str, method: str, role: str
) -> None:
    if endpoint not in RULES and endpoint not in PUBLIC:
        pytest.fail(f"{endpoint} ({rule}) has no rule in survey.accounts.permissions")
    limiter.reset()  # the matrix posts to the sign-in pages more often than a person would
    client, token = matrix.clients[role], matrix.tokens[role]
    if endpoint == "staff.logout" and role != "anonymous":
        user, password, secret = matrix.accounts[role]  # a session of its own to end
        client = sign_in(matrix.app.test_client(), user.email, password, secret)
        token = csrf_token(get(client, HOME_URL).text)
    url = fill(rule, matrix.url_values)
    data = {"csrf_token": token} if method == "POST" else None
    if endpoint == "quotes.decide" and role.endswith(PROVIDER) and may(role, endpoint):
        data = {**(data or {}), "action": "approve", "text": "Goedgekeurd door een ander"}
    answer = request(client, method, url, data=data)
    binary = not answer.mimetype.startswith(("text/", "application/json"))
    page = "(a download)" if binary else answer.get_data(as_text=True)

    assert answer.status_code < 500, page
    if endpoint in PUBLIC:
        assert answer.status_code != 403
    elif role == "anonymous":
        assert login_redirect(answer), (answer.status_code, answer.headers.get("Location"))
    elif not may(role, endpoint):
        assert answer.status_code == 403
        assert all(words in text_of(page) for words in FORBIDDEN_TEXT)
    elif endpoint == "quotes.decide" and role.endswith(PROVIDER):
        assert answer.status_code == 404  # MetMaya's quote: not Kompas's to see or decide
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
