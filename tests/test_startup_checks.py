"""What an operator meets: start-up refusals that say what to change, `ervaringswijzer check`,
`/healthz`, and commands that refuse to touch a production installation.

Every app here is built from the environment only, as the console script and gunicorn build it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text

from survey import create_app
from survey.cli import cli
from survey.config import ConfigError
from survey.migrate import upgrade
from survey.models import Episode, StaffUser
from tests.conftest import TEST_MFA_KEY, service_missing
from tests.servers import free_port
from tests.tls import make_authority, starttls_relay

GOOD_KEY = "5e" * 32
BASE_URL = "https://ervaringswijzer.example.org"
SETTINGS = (
    *("DATABASE_URL", "SECRET_KEY", "PUBLIC_BASE_URL", "ERVARINGSWIJZER_DEMO", "FLASK_DEBUG"),
    *("RATELIMIT_STORAGE_URI", "WEB_CONCURRENCY", "SMTP_HOST", "SMTP_STARTTLS", "SMTP_SSL"),
    *("SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_CA_FILE", "TESTING", "INSTANCE_PATH"),
)
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A production environment on a migrated SQLite database; tests change what they test."""
    for name in SETTINGS:
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'prod.db'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", GOOD_KEY)
    monkeypatch.setenv("MFA_ENCRYPTION_KEY", TEST_MFA_KEY)
    monkeypatch.setenv("PUBLIC_BASE_URL", BASE_URL)
    monkeypatch.setenv("MAIL_FILE_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path / "instance"))
    return monkeypatch


def build() -> None:
    app = create_app()
    app.extensions["db_engine"].dispose()


# -- start-up refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"PUBLIC_BASE_URL": "http://enquete.example.nl"}, "PUBLIC_BASE_URL is 'http://.*https"),
        ({"SECRET_KEY": "kort-maar-geheim-2024"}, "SECRET_KEY is shorter than 32 bytes"),
        ({"FLASK_DEBUG": "1"}, "FLASK_DEBUG is on in a production configuration"),
        ({"WEB_CONCURRENCY": "4"}, "RATELIMIT_STORAGE_URI is 'memory://' with 4 worker"),
        ({"PUBLIC_BASE_URL": "http://127.evil.example"}, "PUBLIC_BASE_URL is 'http://"),
        ({"SMTP_HOST": "smtp.example.nl"}, "SMTP_HOST is 'smtp.example.nl' without SMTP_STARTTLS"),
        (
            {"ERVARINGSWIJZER_DEMO": "1", "DATABASE_URL": "postgresql+psycopg://db.example/x"},
            "ERVARINGSWIJZER_DEMO is set on what looks like a real installation",
        ),
        (
            {"WEB_CONCURRENCY": "2", "RATELIMIT_STORAGE_URI": "memory://"},
            "redis://",
        ),
    ],
    ids=[
        *("http address", "short key", "debugger", "memory limits, 4 workers", "loopback-like"),
        *("plain-text relay", "demo on a real database", "memory, 2"),
    ],
)
def test_unsafe_production_settings_refuse_to_start_and_say_what_to_change(env, variables, message):
    for name, value in variables.items():
        env.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        build()


def test_the_safe_production_settings_start(env):
    env.setenv("WEB_CONCURRENCY", "4")
    env.setenv("RATELIMIT_STORAGE_URI", REDIS_URL)
    app = create_app()
    assert app.config["PRODUCTION"] is True
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-ervaringswijzer_session"
    assert app.debug is False
    app.extensions["db_engine"].dispose()


def test_a_plain_http_address_on_this_machine_is_allowed(env):
    """Links to 127.0.0.1 never leave the machine (benchmarks, a local check)."""
    env.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:8000")
    build()


def test_demo_and_development_may_use_plain_http(env):
    env.setenv("PUBLIC_BASE_URL", "http://enquete.example.nl")
    env.delenv("SECRET_KEY")
    env.setenv("ERVARINGSWIJZER_DEMO", "1")
    build()
    env.delenv("ERVARINGSWIJZER_DEMO")
    env.setenv("FLASK_DEBUG", "1")  # a developer's machine: no production secret
    build()


def test_the_console_script_prints_the_refusal_without_a_traceback(env):
    env.setenv("PUBLIC_BASE_URL", "http://enquete.example.nl")
    script = Path(sys.executable).with_name("ervaringswijzer")
    done = subprocess.run(
        [str(script), "send"], capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert done.returncode == 1
    assert "Configuration refused: PUBLIC_BASE_URL" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_run_refuses_the_debugger_on_a_production_configuration(env):
    def serve(*args: object, **kwargs: object) -> None:
        raise AssertionError("the development server started")

    env.setattr("werkzeug.serving.run_simple", serve)
    result = CliRunner().invoke(cli, ["run", "--debugger", "--port", str(free_port())])
    assert result.exit_code == 2, result.output
    assert "--debugger on a production configuration" in result.output


def test_demo_refuses_a_production_database_and_changes_nothing(env):
    result = CliRunner().invoke(cli, ["demo"])
    assert result.exit_code == 1, result.output
    assert "only runs in demo mode" in result.output
    engine = create_engine(os.environ["DATABASE_URL"])
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(StaffUser)) == 0
        assert connection.scalar(select(func.count()).select_from(Episode)) == 0
    engine.dispose()


# -- ervaringswijzer check ---------------------------------------------------------------------


def run_check() -> tuple[int, dict[str, tuple[str, str]]]:
    result = CliRunner().invoke(cli, ["check"])
    rows: dict[str, tuple[str, str]] = {}
    for line in result.output.splitlines():
        for name in ("configuration", "public address", "database", "rate limits", "mail relay"):
            if line.startswith(name + " "):
                status, _, detail = line[len(name) :].strip().partition("  ")
                rows[name] = (status, detail.strip())
        if line.startswith("translations "):
            status, _, detail = line[len("translations") :].strip().partition("  ")
            rows["translations"] = (status, detail.strip())
    return result.exit_code, rows


def redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        service_missing(f"Redis at 127.0.0.1:6379 unreachable ({type(exc).__name__})")


def test_check_passes_on_a_healthy_installation(env):
    redis_or_skip()
    env.setenv("RATELIMIT_STORAGE_URI", REDIS_URL)
    env.setenv("WEB_CONCURRENCY", "2")
    code, rows = run_check()
    assert code == 0, rows
    assert rows["configuration"][0] == "ok"
    assert rows["public address"][0] == "ok"
    assert rows["database"][0] == "ok" and "newest revision" in rows["database"][1]
    assert rows["rate limits"] == ("ok", "redis://127.0.0.1:6379/0: Redis answers")
    assert rows["mail relay"][0] == "warning"  # .eml files: allowed, but an operator should know
    assert rows["translations"][0] == "ok"


def test_check_names_every_broken_part_and_exits_non_zero(env):
    env.setenv("RATELIMIT_STORAGE_URI", f"redis://127.0.0.1:{free_port()}/0")
    engine = create_engine(os.environ["DATABASE_URL"])
    with engine.begin() as connection:  # an installation one migration behind
        connection.execute(text("UPDATE alembic_version SET version_num = '0005'"))
    engine.dispose()
    code, rows = run_check()
    assert code == 1
    assert rows["configuration"][0] == "ok"
    assert rows["database"][0] == "FAILED"
    assert "at revision 0005" in rows["database"][1]
    assert "ervaringswijzer db upgrade" in rows["database"][1]
    assert rows["rate limits"][0] == "FAILED" and "unreachable" in rows["rate limits"][1]


def test_check_reports_a_refused_configuration_and_an_unreachable_database(env):
    env.setenv("PUBLIC_BASE_URL", "http://enquete.example.nl")
    env.setenv("DATABASE_URL", f"postgresql+psycopg://nobody:geheim@127.0.0.1:{free_port()}/x")
    code, rows = run_check()
    assert code == 1
    assert rows["configuration"][0] == "FAILED" and "PUBLIC_BASE_URL" in rows["configuration"][1]
    assert rows["public address"][0] == "FAILED"
    assert rows["database"][0] == "FAILED" and "unreachable" in rows["database"][1]
    assert "geheim" not in rows["database"][1]  # a password is never printed


# -- /healthz -----------------------------------------------------------------------------------


def test_healthz_says_ok_and_nothing_else(env):
    app = create_app()
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 200
    assert json.loads(answer.data) == {"status": "ok"}
    assert answer.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in answer.headers
    app.extensions["db_engine"].dispose()


def test_healthz_answers_503_when_the_database_is_gone(env):
    env.setenv("DATABASE_URL", f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x")
    app = create_app()
    answer = app.test_client().get("/healthz")
    assert answer.status_code == 503
    assert json.loads(answer.data) == {"status": "unavailable"}
    app.extensions["db_engine"].dispose()


# -- the relay in `check` -------------------------------------------------------------------------


def relay_env(env: pytest.MonkeyPatch, port: int, ca_file: Path) -> None:
    env.setenv("SMTP_HOST", "127.0.0.1")
    env.setenv("SMTP_PORT", str(port))
    env.setenv("SMTP_STARTTLS", "1")
    env.setenv("SMTP_USERNAME", "ervaringswijzer")
    env.setenv("SMTP_PASSWORD", "relay-wachtwoord")
    env.setenv("SMTP_CA_FILE", str(ca_file))


def test_check_reports_a_verified_relay_and_sends_nothing(env, tmp_path):
    authority = make_authority(tmp_path)
    credentials = ("ervaringswijzer", "relay-wachtwoord")
    with starttls_relay(authority.server_context(), credentials=credentials) as relay:
        relay_env(env, relay.port, authority.ca_file)
        _code, rows = run_check()
    assert rows["mail relay"][0] == "ok", rows
    assert "TLS verified" in rows["mail relay"][1] and "AUTH ok" in rows["mail relay"][1]
    assert relay.handler.received == []
    assert [(a.over_tls, a.success) for a in relay.auth_attempts] == [(True, True)]


def test_check_fails_on_a_relay_whose_certificate_does_not_verify(env, tmp_path):
    trusted, other = make_authority(tmp_path, "trusted"), make_authority(tmp_path, "other")
    with starttls_relay(other.server_context()) as relay:
        relay_env(env, relay.port, trusted.ca_file)
        code, rows = run_check()
    assert code == 1
    assert rows["mail relay"][0] == "FAILED"
    assert "certificate verify failed" in rows["mail relay"][1]
    assert relay.auth_attempts == []  # the password never left


def test_check_reports_development_and_demo_settings_as_warnings_not_as_production(env):
    env.setenv("FLASK_DEBUG", "1")
    code, rows = run_check()
    assert code == 1
    assert rows["configuration"][0] == "FAILED" and "FLASK_DEBUG" in rows["configuration"][1]
    env.delenv("FLASK_DEBUG")
    env.delenv("SECRET_KEY")
    env.setenv("ERVARINGSWIJZER_DEMO", "1")
    env.setenv("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    code, rows = run_check()
    assert rows["configuration"] == ("warning", "demo mode: synthetic data only")


def test_check_prints_no_credentials_of_any_service(env):
    env.setenv(
        "RATELIMIT_STORAGE_URI", f"redis://:geheim1@127.0.0.1:{free_port()}/0?password=geheim2"
    )
    env.setenv("DATABASE_URL", "nonsense://gebruiker:geheim3@")
    result = CliRunner().invoke(cli, ["check"])
    assert result.exit_code == 1
    assert "geheim" not in result.output and "gebruiker" not in result.output, result.output
    assert "database" in result.output and "FAILED" in result.output
