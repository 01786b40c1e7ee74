"""The deploy/ files as the production-stack test uses them: env.example and the nginx site.

`stack_environment` is what the stack's processes run with (deploy/env.example plus the values
that must name this machine); `render_nginx_site` is deploy/nginx/ervaringswijzer.conf with its
placeholders filled in for a test machine.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX_SITE = DEPLOY / "nginx" / "ervaringswijzer.conf"
GUNICORN_CONF = DEPLOY / "gunicorn.conf.py"
ENV_EXAMPLE = DEPLOY / "env.example"
README = ROOT / "README.md"
SYSTEMD = DEPLOY / "systemd"
MIME_TYPES = Path("/etc/nginx/mime.types")
# Placeholders of deploy/nginx/ervaringswijzer.conf; README "Production" says what goes in each.
NGINX_PLACEHOLDERS = ("@SERVER_NAME@", "@CERT@", "@KEY@", "@STATIC_ROOT@", "@UPSTREAM@")


# ------------------------------------------------------------------------------ environment


def read_env_file(path: Path = ENV_EXAMPLE) -> dict[str, str]:
    """The NAME=value lines of an environment file as systemd's EnvironmentFile= reads them."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", name), f"not NAME=value: {line!r}"
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        values[name] = value
    return values


def documented_variables(path: Path = ENV_EXAMPLE) -> set[str]:
    """Every variable env.example names, set or commented out (`# NAME=`)."""
    pattern = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=", re.MULTILINE)
    return set(pattern.findall(path.read_text(encoding="utf-8")))


def stack_environment(base: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """`base` without any setting of the app, then deploy/env.example, then `overrides`.

    Nothing of the developer's own environment (a demo flag, FLASK_DEBUG, TESTING) reaches the
    stack: what it runs with is the example file plus the values that must name this machine.
    """
    example = read_env_file()
    named = documented_variables() | {"TESTING", "INSTANCE_PATH"}
    env = {
        name: value
        for name, value in base.items()
        if name not in named and not name.startswith(("FLASK_", "SMTP_", "GUNICORN"))
    }
    env.update(example)
    env.update(overrides)
    return env


# ------------------------------------------------------------------------------ nginx


def render_nginx_site(
    *,
    server_name: str,
    cert: Path,
    key: Path,
    static_root: Path,
    upstream: str,
    https_port: int,
    http_port: int,
    log_dir: Path,
) -> str:
    """deploy/nginx/ervaringswijzer.conf with its placeholders filled in, for a test machine.

    Beyond the placeholders only what a test cannot have changes: the ports (80 and 443 become
    free loopback ports; the IPv6 `listen` lines go, a container may have no IPv6) and the log
    folder (/var/log/nginx becomes `log_dir`).
    """
    site = NGINX_SITE.read_text(encoding="utf-8")
    values = {
        "@SERVER_NAME@": server_name,
        "@CERT@": str(cert),
        "@KEY@": str(key),
        "@STATIC_ROOT@": str(static_root),
        "@UPSTREAM@": upstream,
    }
    assert set(re.findall(r"@[A-Z_]+@", site)) == set(values), "placeholders changed"
    for placeholder, value in values.items():
        site = site.replace(placeholder, value)
    site, https = re.subn(
        r"^(\s*)listen 443 ssl", rf"\1listen 127.0.0.1:{https_port} ssl", site, flags=re.M
    )
    site, http = re.subn(r"^(\s*)listen 80;", rf"\1listen 127.0.0.1:{http_port};", site, flags=re.M)
    site, ipv6 = re.subn(r"^\s*listen \[::\]:.*\n", "", site, flags=re.M)
    assert (https, http, ipv6) == (1, 1, 2), "the listen lines of the nginx site changed"
    return site.replace("/var/log/nginx/", f"{log_dir}/")


def nginx_main_config(folder: Path, site: Path) -> str:
    """A minimal nginx.conf like Debian's: the site file goes into its http block."""
    user = "user root;\n" if os.geteuid() == 0 else ""  # files under /tmp are private
    mime = f"include {MIME_TYPES};\n    " if MIME_TYPES.exists() else ""
    return f"""{user}worker_processes 1;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 256; }}
http {{
    {mime}default_type application/octet-stream;
    sendfile on;
    gzip on;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    access_log {folder}/default-access.log;
    include {site};
}}
"""


# ------------------------------------------------------------------------------ operator commands

# The commands the README tells an operator to run, as this module runs them. test_readme_…
# compares the README's commands with these shapes (options in order; values are placeholders).
DB_UPGRADE = ("db", "upgrade")
CHECK = ("check",)
PURGE = ("purge",)


def users_create(email: str, role: str) -> tuple[str, ...]:
    return ("users", "create", email, "--role", role, "--password-stdin")


def pg_dump(file: Path, database: str) -> tuple[str, ...]:
    return ("pg_dump", "-Fc", "-f", str(file), database)


def createdb(owner: str, database: str) -> tuple[str, ...]:
    return ("createdb", "-O", owner, database)


def pg_restore(database: str, file: Path) -> tuple[str, ...]:
    return ("pg_restore", "--exit-on-error", "-d", database, str(file))
