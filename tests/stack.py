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
developer machine and fails under CI (`service_missing`). The deploy/ files are read in
tests/stack_files.py, the services and processes are handled in tests/stack_services.py.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import URL

from tests.conftest import TEST_MFA_KEY
from tests.servers import free_port
from tests.stack_files import GUNICORN_CONF, nginx_main_config, render_nginx_site, stack_environment
from tests.stack_services import (
    NGINX,
    REDIS_URL,
    START_TIMEOUT,
    Certificates,
    create_database,
    drop_database,
    flush_redis,
    make_certificates,
    pg_environ,
    require_services,
    run,
    server_url,
    spawn,
    stop,
    tail,
    wait_for_port,
)

if TYPE_CHECKING:
    from tests.tls import TlsRecordingHandler

WORKERS = 2


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
                "MFA_ENCRYPTION_KEY": TEST_MFA_KEY,
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
