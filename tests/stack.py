"""The production stack of README "Production", started by a test: nginx → gunicorn → PostgreSQL.

`production_stack()` brings up, on loopback ports of its own:

* a fresh PostgreSQL database (`CREATE DATABASE ew_stack_<pid>_<random>` on the server of
  TEST_DATABASE_URL), its schema made by the installed `ervaringswijzer db upgrade`;
* a test CA (tests/tls.py, trustme) and nginx's certificate of it for localhost / 127.0.0.1;
* an SMTP relay (aiosmtpd, tests/tls.py) that insists on STARTTLS, with a certificate of
  that CA;
* gunicorn from the installed wheel's venv with `-c deploy/gunicorn.conf.py` and two workers;
* Debian's nginx with `deploy/nginx/ervaringswijzer.conf` itself, its placeholders filled in
  (the test's certificate, the installed package's static folder, gunicorn's port);

with the environment of `deploy/env.example` (only the values that name this machine's services
and secrets replaced, see `stack_environment`). Redis database 13 holds the rate-limit counters
(flushed before and after). On exit every process is stopped and the databases are dropped.

A missing service (nginx, PostgreSQL, Redis, the PostgreSQL client programs) skips on a
developer machine and fails under CI (`service_missing`).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url

from tests.conftest import service_missing
from tests.servers import free_port

if TYPE_CHECKING:
    from tests.tls import CertificateAuthority, TlsRecordingHandler

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX_SITE = DEPLOY / "nginx" / "ervaringswijzer.conf"
GUNICORN_CONF = DEPLOY / "gunicorn.conf.py"
ENV_EXAMPLE = DEPLOY / "env.example"
NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")
MIME_TYPES = Path("/etc/nginx/mime.types")
DEFAULT_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/13"  # a database number no other test uses
WORKERS = 2
START_TIMEOUT = 60
PG_PROGRAMS = ("pg_dump", "pg_restore", "createdb")
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


# ------------------------------------------------------------------------------ PostgreSQL


def server_url() -> URL:
    """TEST_DATABASE_URL (or the CI default): the server the stack makes its databases on."""
    return make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_DATABASE_URL)


def pg_environ(url: URL) -> dict[str, str]:
    """libpq's variables for `url`'s server (for pg_dump, createdb, pg_restore)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env.update(PGHOST=url.host or "127.0.0.1", PGPORT=str(url.port or 5432))
    env["PGUSER"] = url.username or "postgres"
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return env


def _maintenance_engine(url: URL) -> Engine:
    return create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")


def _on_server(url: URL, statement: str) -> None:
    engine = _maintenance_engine(url)
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def create_database(url: URL, name: str) -> str:
    """CREATE DATABASE `name` on `url`'s server; returns its SQLAlchemy URL."""
    _on_server(url, f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(url: URL, name: str) -> None:
    """DROP DATABASE `name` (ending its connections) if it exists."""
    _on_server(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def count_rows(database_url: str, table: str) -> int:
    """SELECT count(*) FROM `table` (a table, maybe with a WHERE: fixed text of the tests)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    finally:
        engine.dispose()


def require_services(url: URL) -> None:
    """Skip (fail under CI) unless nginx, PostgreSQL, its client programs and Redis are here."""
    if not Path(NGINX).exists():
        service_missing(f"nginx is not installed at {NGINX} (apt-get install nginx)")
    missing = [name for name in PG_PROGRAMS if shutil.which(name) is None]
    if missing:
        service_missing(f"{', '.join(missing)} not found (apt-get install postgresql-client)")
    try:
        engine = _maintenance_engine(url)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any failure to reach it means the same thing here
        shown = url.render_as_string(hide_password=True)
        service_missing(f"PostgreSQL at {shown} unreachable: {type(exc).__name__}: {exc}")
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
        client.ping()
        client.close()
    except redis.RedisError as exc:
        service_missing(f"Redis at {REDIS_URL} unreachable: {type(exc).__name__}")
    try:
        import trustme  # noqa: F401
    except ImportError:
        service_missing("the Python package trustme is not installed (a dev dependency)")


def flush_redis() -> None:
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3)
    client.flushdb()
    client.close()


# ------------------------------------------------------------------------------ TLS


@dataclass
class Certificates:
    """The test CA (tests/tls.py) and nginx's certificate of it for localhost and 127.0.0.1."""

    authority: CertificateAuthority
    ca_file: Path  # SMTP_CA_FILE, and what `requests` verifies nginx with
    cert_file: Path  # nginx's certificate with its chain
    key_file: Path


def make_certificates(folder: Path) -> Certificates:
    """One test CA for the whole stack: nginx's certificate and the relay's are both its own."""
    from tests.tls import make_authority

    authority = make_authority(folder, "stack-ca")
    cert = authority.ca.issue_cert("localhost", "127.0.0.1")
    cert_file, key_file = folder / "server-chain.pem", folder / "server-key.pem"
    for index, blob in enumerate(cert.cert_chain_pems):
        blob.write_to_path(str(cert_file), append=index > 0)
    cert.private_key_pem.write_to_path(str(key_file))
    return Certificates(authority, authority.ca_file, cert_file, key_file)


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


# ------------------------------------------------------------------------------ processes


def run(
    command: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    input: str | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    """Run a program to its end with its output captured as text (never raises on failure)."""
    return subprocess.run(
        command,
        cwd=cwd,
        env=dict(env),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def spawn(command: list[str], log: Path, **options: Any) -> subprocess.Popen:
    """Start a server whose output goes to `log` (a file, never an unread pipe)."""
    with log.open("ab") as out:
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, **options
        )


def wait_for_port(port: int, process: subprocess.Popen, log: Path, what: str) -> None:
    """Wait until something accepts connections on 127.0.0.1:`port`; fail if `process` died."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{tail(log)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} in {START_TIMEOUT} s:\n{tail(log)}")


def tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"({path} not written)"


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Stop one process this harness started (by its own pid) and wait for it."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_pids(master: int) -> set[int]:
    """The pids of gunicorn's workers: the children of its master process."""
    pids = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(master):
            pids.add(int(status.parent.name))
    return pids


# ------------------------------------------------------------------------------ the stack


@dataclass
class Stack:
    """The running stack and how to reach its parts."""

    folder: Path
    bin: Path  # the venv of the installed wheel
    python: Path
    static_root: Path
    env: dict[str, str]  # the environment of the app's processes
    base_url: str  # https://localhost:<nginx port>, PUBLIC_BASE_URL
    http_url: str  # http://localhost:<nginx port for plain http>
    gunicorn_url: str  # http://127.0.0.1:<gunicorn port>, behind nginx
    server: URL  # the PostgreSQL server
    database: str
    database_url: str
    certificates: Certificates
    mail: TlsRecordingHandler
    gunicorn: subprocess.Popen
    nginx: subprocess.Popen
    gunicorn_log: Path
    nginx_logs: Path
    extra_databases: list[str] = field(default_factory=list)

    def cli(
        self, *args: str, input: str | None = None, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """The installed `ervaringswijzer` with the stack's environment, outside the checkout."""
        command = [str(self.bin / "ervaringswijzer"), *args]
        return run(command, cwd=self.folder, env={**self.env, **(env or {})}, input=input)

    def cli_background(self, *args: str) -> subprocess.Popen[str]:
        """Start the installed `ervaringswijzer` without waiting (see `finish`)."""
        return subprocess.Popen(
            [str(self.bin / "ervaringswijzer"), *args],
            cwd=self.folder,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @staticmethod
    def finish(process: subprocess.Popen[str]) -> str:
        """Wait for a `cli_background` command, asserting exit code 0; returns its output."""
        stdout, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, (
            f"{' '.join(map(str, process.args))} exited {process.returncode}\n"
            f"stdout:\n{stdout}\nstderr:\n{stderr}"
        )
        return stdout

    def cli_ok(self, *args: str, **options: Any) -> str:
        """`cli`, asserting exit code 0; returns its output."""
        result = self.cli(*args, **options)
        assert result.returncode == 0, (
            f"ervaringswijzer {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
        return result.stdout

    def pg(self, *args: str) -> subprocess.CompletedProcess[str]:
        """A PostgreSQL client program (pg_dump, createdb, pg_restore) on the stack's server."""
        return run(list(args), cwd=self.folder, env=pg_environ(self.server))

    def new_database(self, name: str) -> str:
        """Remember another database of the stack (dropped with it); returns its URL."""
        self.extra_databases.append(name)
        return self.server.set(database=name).render_as_string(hide_password=False)


@contextmanager
def production_stack(folder: Path) -> Iterator[Stack]:
    """Start the whole stack in `folder`; stop and drop everything when the block ends."""
    server = server_url()
    require_services(server)
    from tests.wheel import installed_wheel

    wheel = installed_wheel()
    bin_dir, python = wheel.bin, wheel.python
    static_root = wheel.site_packages / "survey" / "static"
    assert (static_root / "site.css").is_file(), f"no static files in {static_root}"
    with ExitStack() as cleanup:
        database = f"ew_stack_{os.getpid()}_{secrets.token_hex(4)}"
        database_url = create_database(server, database)
        extra: list[str] = []

        def drop_all() -> None:
            for name in [database, *extra]:
                drop_database(server, name)

        cleanup.callback(drop_all)
        flush_redis()
        cleanup.callback(flush_redis)
        certificates = make_certificates(folder)
        from tests.tls import starttls_relay

        relay = cleanup.enter_context(starttls_relay(certificates.authority.server_context()))

        https_port, http_port, app_port = free_port(), free_port(), free_port()
        base_url = f"https://localhost:{https_port}"
        (folder / "instance").mkdir()
        env = stack_environment(
            wheel.environ(),
            {
                "SECRET_KEY": secrets.token_hex(32),
                # Two families answer on this stack: with the default of 5 their group's figures,
                # and so its quotes, would rightly stay hidden (docs/threat-model.md). The stack
                # tests the topology, the disclosure control has its own tests.
                "MIN_CELL_SIZE": "1",
                "DATABASE_URL": database_url,
                "PUBLIC_BASE_URL": base_url,
                "GUNICORN_BIND": f"127.0.0.1:{app_port}",
                "WEB_CONCURRENCY": str(WORKERS),
                "RATELIMIT_STORAGE_URI": REDIS_URL,
                "INSTANCE_PATH": str(folder / "instance"),
                "MAIL_FILE_DIR": str(folder / "instance" / "outbox"),
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": str(relay.port),
                "SMTP_CA_FILE": str(certificates.ca_file),
                "SMTP_TIMEOUT": "10",
                "MAIL_FROM": "Ervaringswijzer test <noreply@ervaringswijzer.test>",
            },
        )
        migrate = run([str(bin_dir / "ervaringswijzer"), "db", "upgrade"], cwd=folder, env=env)
        assert migrate.returncode == 0, f"db upgrade failed:\n{migrate.stdout}\n{migrate.stderr}"

        gunicorn_log = folder / "gunicorn.log"
        gunicorn = spawn(
            [str(python), "-m", "gunicorn", "-c", str(GUNICORN_CONF), "survey:create_app()"],
            gunicorn_log,
            cwd=folder,
            env=env,
        )
        cleanup.callback(stop, gunicorn)
        wait_for_port(app_port, gunicorn, gunicorn_log, "gunicorn")

        nginx_dir = folder / "nginx"
        logs = nginx_dir / "logs"
        logs.mkdir(parents=True)
        site = nginx_dir / "ervaringswijzer.conf"
        site.write_text(
            render_nginx_site(
                server_name="localhost",
                cert=certificates.cert_file,
                key=certificates.key_file,
                static_root=static_root,
                upstream=f"127.0.0.1:{app_port}",
                https_port=https_port,
                http_port=http_port,
                log_dir=logs,
            )
        )
        main_conf = nginx_dir / "nginx.conf"
        main_conf.write_text(nginx_main_config(nginx_dir, site))
        nginx_command = [NGINX, "-p", str(nginx_dir), "-e", str(nginx_dir / "error.log")]
        nginx_command += ["-c", str(main_conf)]
        checked = run([*nginx_command, "-t"], cwd=nginx_dir, env=os.environ, timeout=30)
        assert checked.returncode == 0, f"nginx -t refused the site:\n{checked.stderr}"
        nginx = spawn([*nginx_command, "-g", "daemon off;"], nginx_dir / "nginx.out")
        cleanup.callback(stop, nginx, signal.SIGQUIT)  # graceful: finish open requests
        wait_for_port(https_port, nginx, nginx_dir / "error.log", "nginx")

        stack = Stack(
            folder=folder,
            bin=bin_dir,
            python=python,
            static_root=static_root,
            env=env,
            base_url=base_url,
            http_url=f"http://localhost:{http_port}",
            gunicorn_url=f"http://127.0.0.1:{app_port}",
            server=server,
            database=database,
            database_url=database_url,
            certificates=certificates,
            mail=relay.handler,
            gunicorn=gunicorn,
            nginx=nginx,
            gunicorn_log=gunicorn_log,
            nginx_logs=logs,
            extra_databases=extra,
        )
        _wait_for_workers(stack)
        yield stack


def _wait_for_workers(stack: Stack) -> None:
    """Until both workers have booted and /healthz answers through nginx."""
    import requests

    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        booted = len(re.findall(r"Booting worker with pid", stack.gunicorn_log.read_text()))
        try:
            answer = requests.get(
                f"{stack.base_url}/healthz", verify=str(stack.certificates.ca_file), timeout=5
            )
        except requests.RequestException:
            answer = None
        if booted >= WORKERS and answer is not None and answer.status_code == 200:
            return
        if stack.gunicorn.poll() is not None:
            raise RuntimeError(f"gunicorn exited:\n{tail(stack.gunicorn_log)}")
        time.sleep(0.2)
    raise RuntimeError(f"the stack did not answer /healthz:\n{tail(stack.gunicorn_log)}")
