"""The services and processes under the production-stack test: PostgreSQL, Redis, the test CA,
and the programs the harness starts and stops (by their own pid).

A missing service (nginx, PostgreSQL, Redis, the PostgreSQL client programs) skips on a
developer machine and fails under CI (`service_missing`). The PostgreSQL server is the one of
TEST_DATABASE_URL (tests/conftest.py, `postgres_server_url`).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine

from tests.conftest import postgres_server_url, service_missing

if TYPE_CHECKING:
    from tests.tls import CertificateAuthority

NGINX = os.environ.get("NGINX_PATH", "/usr/sbin/nginx")
REDIS_URL = "redis://127.0.0.1:6379/13"  # a database number no other test uses
START_TIMEOUT = 60
PG_PROGRAMS = ("pg_dump", "pg_restore", "createdb")


# ------------------------------------------------------------------------------ PostgreSQL


def server_url() -> URL:
    """The server the stack makes its databases on: TEST_DATABASE_URL's, as for every test."""
    return postgres_server_url()


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
