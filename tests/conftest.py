"""Fixtures: an app with a fresh database per test, on SQLite and (when reachable) PostgreSQL.

Every test that uses `app` runs twice: `[sqlite]` on a new file, `[postgresql]` against
TEST_DATABASE_URL (tables created once per run, emptied after each test). On a newcomer's machine
without PostgreSQL the PostgreSQL runs skip with the reason; under CI (CI=true) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import survey.models  # noqa: F401  (registers every table on Base.metadata for create_all)
from survey import create_app
from survey.db import Base, get_session
from survey.limits import limiter

BACKENDS = ["sqlite", "postgresql"]
PUBLIC_BASE_URL = "https://ervaringswijzer.test"


def service_missing(reason: str) -> None:
    """Skip for a missing service on a developer machine; fail under CI, where nothing may skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: required)")
    pytest.skip(reason)


_pg_state: dict[str, object] = {}


def postgres_url() -> str:
    """A URL for TEST_DATABASE_URL in a schema of this test run, with our tables (made once).

    Each run gets its own schema, so parallel runs on one server (several developers, helpers,
    xdist workers) never see each other's tables.
    """
    base_url = os.environ.get("TEST_DATABASE_URL")
    if not base_url:
        service_missing("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    if "error" not in _pg_state and "url" not in _pg_state:
        schema = f"test_run_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        try:
            admin = create_engine(base_url)
            with admin.begin() as connection:
                connection.execute(text(f"CREATE SCHEMA {schema}"))
            admin.dispose()
        except Exception as exc:  # any failure to reach it means the same thing here
            shown = make_url(base_url).render_as_string()
            _pg_state["error"] = f"PostgreSQL at {shown} unreachable: {type(exc).__name__}: {exc}"
        else:
            url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
            url_text = url.render_as_string(hide_password=False)
            engine = create_engine(url_text)
            Base.metadata.create_all(engine)
            engine.dispose()
            _pg_state.update(url=url_text, schema=schema, base_url=base_url)
    if "error" in _pg_state:
        service_missing(str(_pg_state["error"]))
    return str(_pg_state["url"])


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this run's PostgreSQL schema."""
    if "schema" in _pg_state:
        engine = create_engine(str(_pg_state["base_url"]))
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {_pg_state['schema']} CASCADE"))
        engine.dispose()


def _truncate_all(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database with the current schema, on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'test.db'}"
        engine = create_engine(url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield url
    else:
        url = postgres_url()
        yield url
        _truncate_all(url)


class IsolatedClient(FlaskClient):
    """A test client whose every request gets a fresh application context.

    Flask reuses an application context that a test keeps open (the `db` fixture does), so
    without this `g` — the database session, the signed-in user, the language — would leak
    from one request, or one client, into the next and hide bugs.
    """

    def open(self, *args: object, **kwargs: object):  # type: ignore[override]
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_test_app(database_url: str, tmp_path: Path, **overrides: object) -> Flask:
    """An app configured for tests; `overrides` win."""
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "DATABASE_URL": database_url,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "MAIL_FILE_DIR": str(tmp_path / "outbox"),
        "SMTP_HOST": None,
        "MAIL_FROM": "Ervaringswijzer <noreply@ervaringswijzer.test>",
        # The test client speaks http; production's Secure flag is checked in test_deployment.
        "SESSION_COOKIE_SECURE": False,
    }
    config.update(overrides)
    app = create_app(config)
    app.test_client_class = IsolatedClient
    limiter.reset()  # rate-limit counts never leak from one test into the next
    return app


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The application on a fresh database."""
    app = make_test_app(database_url, tmp_path)
    yield app
    app.extensions["db_engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of `app`."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner of `app` (invoke `ervaringswijzer` commands in-process)."""
    return app.test_cli_runner()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    """A database session inside an app context."""
    with app.app_context():
        yield get_session()


@pytest.fixture(scope="session", autouse=True)
def compiled_translations() -> None:
    """Compile the .po catalogues to .mo when stale, so tests also run without `make`."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po_path in Path(__file__).parent.parent.glob("survey/translations/*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        partial = mo_path.with_suffix(f".mo.{os.getpid()}.part")
        with partial.open("wb") as mo_file:
            write_mo(mo_file, catalog, use_fuzzy=False)
        partial.replace(mo_path)  # parallel runs never read half a catalogue
