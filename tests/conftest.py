"""Fixtures: an app with a fresh database per test, on SQLite and (when reachable) PostgreSQL.

Every test that uses `app` runs twice: `[sqlite]` on a new file, `[postgresql]` against
TEST_DATABASE_URL (a schema of this run: tables created once, emptied after each test). On a
newcomer's machine without PostgreSQL the PostgreSQL runs skip with the reason; under CI
(CI=true) they fail instead.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import HealthCheck, settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

import survey.models  # noqa: F401  (registers every table on Base.metadata for create_all)
from survey import create_app
from survey.db import Base
from survey.web.limits import limiter

# Fixtures that several test modules share, kept in the helper module of their subject.
pytest_plugins = ("tests.fuzzing", "tests.mailroom", "tests.purge_region")

# The suite runs on both cores (pytest-xdist): a search's speed depends on what the other worker
# does, so no example has a deadline and slow data generation is no failure.
settings.register_profile("suite", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("suite")

BACKENDS = ["sqlite", "postgresql"]
PUBLIC_BASE_URL = "https://ervaringswijzer.test"
TEST_SECRET_KEY = "test-secret-key"
# A Fernet key for the tests that run production settings (MFA_ENCRYPTION_KEY is required there).
TEST_MFA_KEY = "Wasg3PqlFBxP9PXYJ66lct1_4L2cEGlcQiLmYAwLUN4="


def service_missing(reason: str) -> None:
    """Skip for a missing service on a developer machine; fail under CI, where nothing may skip."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: required)")
    pytest.skip(reason)


def postgres_server_url() -> URL:
    """TEST_DATABASE_URL: the PostgreSQL server of the tests (skip, or fail under CI, if unset).

    Every way a test reaches PostgreSQL starts here: the `postgres_url` fixture (this run's
    schema), `postgres_schema` (a schema of one module or test) and the production stack's
    databases (tests/stack.py).
    """
    base_url = os.environ.get("TEST_DATABASE_URL")
    if not base_url:
        service_missing("TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    return make_url(base_url)


@contextmanager
def postgres_schema(prefix: str, tables: bool = True) -> Iterator[str]:
    """A new schema on TEST_DATABASE_URL, with our tables unless `tables` is False: its URL.

    Each gets a name of its own, so parallel runs on one server (several developers, helpers,
    xdist workers) never see each other's tables. Dropped on exit.
    """
    server = postgres_server_url()
    schema = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(server)
    try:
        with admin.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
    except Exception as exc:  # any failure to reach it means the same thing here
        admin.dispose()
        shown = server.render_as_string()
        service_missing(f"PostgreSQL at {shown} unreachable: {type(exc).__name__}: {exc}")
    url = server.update_query_dict({"options": f"-csearch_path={schema}"})
    url_text = url.render_as_string(hide_password=False)
    if tables:
        engine = create_engine(url_text)
        Base.metadata.create_all(engine)
        engine.dispose()
    try:
        yield url_text
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """This run's schema on TEST_DATABASE_URL with our tables, made once (tests empty it).

    Asked for only by the PostgreSQL runs, so an unreachable server skips (fails under CI) those
    alone; pytest keeps that outcome, so the server is tried once per run.
    """
    with postgres_schema("test_run") as url:
        yield url


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
        url = request.getfixturevalue("postgres_url")
        yield url
        _truncate_all(url)


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (no tables) on each backend: for migrations."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'migrated.db'}"
    else:
        with postgres_schema("migration", tables=False) as url:
            yield url


def make_test_app(database_url: str, tmp_path: Path, **overrides: object) -> Flask:
    """An app configured for tests; `overrides` win."""
    config = {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET_KEY,
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
    """A database session of `app`, outside any application context.

    No context stays pushed for the test, so each request of a test client, and each command of
    the CLI runner, gets a context (and a session) of its own, as on a server.
    """
    session = app.extensions["db_sessionmaker"]()
    yield session
    session.close()


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
