"""The production set-up of README "Production", checked without services: deploy/ files.

deploy/env.example names every variable the app reads and is a safe production configuration;
the systemd units run commands that exist; gunicorn's configuration refuses several workers with
per-process rate-limit counters. (The stack itself runs in tests/test_production_stack.py.)
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_MFA_KEY
from tests.stack_files import (
    ENV_EXAMPLE,
    GUNICORN_CONF,
    README,
    ROOT,
    SYSTEMD,
    documented_variables,
    read_env_file,
)
from tests.stack_services import run


class RecordingEnviron(dict):
    """An empty environment that remembers every name the code asked it for."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.asked.add(str(key))
        return super().__contains__(key)


ENV_READ = re.compile(
    r"""(?:environ\.get|getenv|environ\.setdefault)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)


def variables_read_by_code() -> set[str]:
    """Names read with os.environ / os.getenv anywhere in the package and the gunicorn config."""
    files = [*sorted((ROOT / "survey").rglob("*.py")), GUNICORN_CONF]
    names = set()
    for path in files:
        for match in ENV_READ.finditer(path.read_text(encoding="utf-8")):
            names.add(match.group(1) or match.group(2))
    return names


def test_env_example_names_every_variable_the_app_reads(tmp_path):
    from survey.config import load_config

    environ = RecordingEnviron()
    load_config(tmp_path, environ)
    read = environ.asked | variables_read_by_code()
    assert {"DATABASE_URL", "SECRET_KEY", "SMTP_CA_FILE", "GUNICORN_BIND"} <= read
    missing = sorted(read - documented_variables())
    assert not missing, f"deploy/env.example does not mention {missing}"
    # Every variable (or group of variables) has a comment just above it.
    lines = ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines):
        if re.match(r"^[A-Z][A-Z0-9_]*=", line) and not lines[number - 1].strip():
            pytest.fail(f"env.example line {number + 1} has no comment: {line}")


def test_env_example_is_a_safe_production_configuration(tmp_path):
    import secrets

    from survey.config import ConfigError, check_config, check_web_workers, load_config

    example = read_env_file()
    assert not {"ERVARINGSWIJZER_DEMO", "FLASK_DEBUG", "TESTING"} & set(example)
    # As shipped, the placeholder key is refused: a forgotten step cannot start in production.
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        check_config(load_config(tmp_path, example))
    with pytest.raises(ConfigError, match="MFA_ENCRYPTION_KEY: key 1 is not a Fernet key"):
        check_config(load_config(tmp_path, {**example, "SECRET_KEY": secrets.token_hex(32)}))
    filled = {"SECRET_KEY": secrets.token_hex(32), "MFA_ENCRYPTION_KEY": TEST_MFA_KEY}
    config = load_config(tmp_path, {**example, **filled})
    check_config(config)
    check_web_workers(int(example["WEB_CONCURRENCY"]), config["RATELIMIT_STORAGE_URI"])
    assert config["PUBLIC_BASE_URL"].startswith("https://")
    assert config["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert config["RATELIMIT_STORAGE_URI"].startswith("redis://")
    assert config["REQUIRE_MFA"] is True
    assert config["TRUSTED_PROXIES"] == 1
    assert config["SMTP_STARTTLS"] and not config["SMTP_SSL"] and config["SMTP_PORT"] == 587
    assert config["SESSION_COOKIE_SECURE"] is True


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A systemd unit file: section -> key -> values (a key may repeat)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        assert current is not None, f"{path.name}: {line!r} outside a section"
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


SERVICES = ("web", "worker", "send", "purge")
HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes"}


def cli_commands() -> set[str]:
    """The names of the `ervaringswijzer` commands (the app's CLI group)."""
    import click

    from survey import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "SECRET_KEY": "k" * 32})
    try:
        return set(app.cli.list_commands(click.Context(app.cli)))
    finally:
        app.extensions["db_engine"].dispose()


def test_systemd_units_run_commands_that_exist():
    commands = cli_commands()
    assert {name.name for name in SYSTEMD.iterdir()} == {
        *(f"ervaringswijzer-{name}.service" for name in SERVICES),
        "ervaringswijzer-send.timer",
        "ervaringswijzer-purge.timer",
    }
    readme = README.read_text(encoding="utf-8")
    for name in SERVICES:
        unit = read_unit(SYSTEMD / f"ervaringswijzer-{name}.service")
        service = unit["Service"]
        assert service["EnvironmentFile"] == ["/etc/ervaringswijzer/env"]
        assert service["User"] == ["ervaringswijzer"]
        for key, value in HARDENING.items():
            assert service.get(key) == [value], f"{name}: {key}={value} missing"
        (exec_start,) = service["ExecStart"]
        words = shlex.split(exec_start)
        program = Path(words[0])
        assert program.parent == Path("/opt/ervaringswijzer/venv/bin")
        if name == "web":
            assert program.name == "gunicorn"
            assert words[1:] == [
                "-c",
                "/etc/ervaringswijzer/gunicorn.conf.py",
                "survey:create_app()",
            ]
            # README copies deploy/gunicorn.conf.py to the path the unit names.
            assert "deploy/gunicorn.conf.py /etc/ervaringswijzer/gunicorn.conf.py" in readme
            assert GUNICORN_CONF.is_file()
        else:
            assert program.name == "ervaringswijzer"
            assert words[1:] == [name]
            assert name in commands, f"`ervaringswijzer {name}` does not exist"
    for name in ("send", "purge"):
        timer = read_unit(SYSTEMD / f"ervaringswijzer-{name}.timer")
        assert timer["Timer"]["Unit"] == [f"ervaringswijzer-{name}.service"]
        assert timer["Timer"]["Persistent"] == ["true"]
        assert re.fullmatch(r"\*-\*-\* \d\d:\d\d:\d\d", timer["Timer"]["OnCalendar"][0])
        assert timer["Install"]["WantedBy"] == ["timers.target"]
    for command in ("db", "import-episodes", "users", "quotes"):  # the README's commands
        assert command in commands, command


@pytest.mark.parametrize(
    ("workers_env", "arguments"),
    [("2", []), ("1", ["--workers", "3"])],
    ids=["WEB_CONCURRENCY=2", "--workers 3"],
)
def test_gunicorn_refuses_several_workers_with_memory_rate_limits(tmp_path, workers_env, arguments):
    from tests.servers import free_port

    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": workers_env,
        "RATELIMIT_STORAGE_URI": "memory://",
        "SECRET_KEY": "k" * 64,
        "MFA_ENCRYPTION_KEY": TEST_MFA_KEY,
        "PUBLIC_BASE_URL": "https://ervaringswijzer.example.org",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
        "INSTANCE_PATH": str(tmp_path),
    }
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), *arguments]
    result = run([*command, "survey:create_app()"], cwd=ROOT, env=env, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "RATELIMIT_STORAGE_URI" in output and "memory://" in output
    assert "Booting worker" not in output and "Listening at" not in output
