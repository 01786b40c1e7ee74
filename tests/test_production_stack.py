"""The production set-up of README "Production", tried for real: deploy/ and its commands.

Fast checks first (no services): deploy/env.example names every variable the app reads and is a
safe production configuration; the systemd units run commands that exist; gunicorn's
configuration refuses several workers with per-process rate-limit counters; the README's
commands are the ones this module runs, and it explains every placeholder of the nginx site.

Then one stack for the module (tests/stack.py): nginx with deploy/nginx/ervaringswijzer.conf →
gunicorn (two workers, deploy/gunicorn.conf.py) from the installed wheel → a fresh PostgreSQL
database, Redis for the rate limits, an SMTP relay that insists on STARTTLS. Over https through
nginx:

a. `import-episodes` and `send` mail two families through the relay; one opens the link from
   the email in Chromium and answers, with a quotable comment (no token in any access log);
b. an admin made with `users create` signs in (password, then setting up TOTP) and gets a
   Secure `__Host-` session cookie, opens the dashboard and downloads CSV and Excel, and at the
   end approves the family's quote and signs out; no answer of 400 or above on the way, HSTS
   on every page;
c. cross-site form posts to the sign-in and the survey are refused and store nothing;
d. the 6th wrong password for one account is refused (429) while both workers answered;
e. a `pg_dump -Fc` backup restores into a fresh database that `ervaringswijzer check` passes.

Chromium on Linux takes no CA file, so its browser contexts ignore certificate errors; every
request made here with `requests` verifies nginx's certificate against the test CA instead
(`verify=` the CA file), so the TLS set-up itself is checked, just not by the browser.
"""

from __future__ import annotations

import csv
import io
import re
import shlex
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.stack import (
    DEPLOY,
    ENV_EXAMPLE,
    GUNICORN_CONF,
    NGINX_PLACEHOLDERS,
    NGINX_SITE,
    ROOT,
    Stack,
    count_rows,
    documented_variables,
    production_stack,
    read_env_file,
    run,
    tail,
    worker_pids,
)

README = ROOT / "README.md"
SYSTEMD = DEPLOY / "systemd"
FAMILY_EMAIL = "ouder.jansen@example.org"
SECOND_FAMILY_EMAIL = "ouder.pietersen@example.org"
ADMIN_EMAIL = "beheer@zorgaanbieder.example.org"
TARGET_EMAIL = "kwaliteit@zorgaanbieder.example.org"
PASSWORD = "lange wandeling langs de Eem 2024"
COMMENT = "De begeleider luisterde echt naar ons en de hulp was erg nuttig."
SESSION_COOKIE = "__Host-ervaringswijzer_session"
TOKEN_LINK = re.compile(r"https://[^\s\"'<>]+/s/[A-Za-z0-9_-]{20,}")

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


# =============================================================================== fast checks


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
    config = load_config(tmp_path, {**example, "SECRET_KEY": secrets.token_hex(32)})
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


def readme_production() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Production\n(.*?)(?=^## )", text, flags=re.S | re.M)
    assert match, "README.md has no '## Production' section"
    return match.group(1)


KEPT_WORDS = {"db", "upgrade", "check", "users", "create", "purge", "send", "import-episodes"}
COMPARED = {"pg_dump", "createdb", "pg_restore"}


def shape(words: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """A command with every value replaced by `…`: the program, sub-commands and options."""
    program, *rest = words
    kept = [w if w.startswith("-") or w in KEPT_WORDS else "…" for w in rest]
    return (Path(program).name, *kept)


def commands_of(line: str) -> list[tuple[str, ...]]:
    """The pg_dump/createdb/pg_restore/ervaringswijzer commands of one shell line, without
    `sudo -u X`, the `ew` helper, NAME=value settings in front, and inside `sh -c '…'`."""
    commands = []
    segments: list[list[str]] = [[]]
    for word in shlex.split(line, comments=True):
        if word in {"|", "&&", ";", "||"}:
            segments.append([])
        else:
            segments[-1].append(word)
    for segment in segments:
        while segment and (
            segment[0] in {"sudo", "ew", "env", "--"} or re.fullmatch(r"[A-Z_]+=.*", segment[0])
        ):
            segment = segment[3:] if segment[:2] == ["sudo", "-u"] else segment[1:]
        if segment[:2] == ["sh", "-c"] and len(segment) > 2:
            commands += commands_of(segment[2])
        elif segment and Path(segment[0]).name in COMPARED | {"ervaringswijzer"}:
            commands.append(tuple(segment))
    return commands


def readme_commands() -> list[tuple[str, ...]]:
    """Every command of `commands_of` in the README's Production section."""
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", readme_production(), flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            commands += commands_of(line)
    return commands


def test_readme_production_commands_are_the_ones_this_module_runs():
    ours = {
        shape(("ervaringswijzer", *DB_UPGRADE)),
        shape(("ervaringswijzer", *CHECK)),
        shape(("ervaringswijzer", *PURGE)),
        shape(("ervaringswijzer", *users_create("x", "admin"))),
        shape(pg_dump(Path("x"), "x")),
        shape(createdb("x", "x")),
        shape(pg_restore("x", Path("x"))),
    }
    found = {shape(command) for command in readme_commands()}
    tested_programs = {s[:3] if s[0] == "ervaringswijzer" else s[:1] for s in ours}
    compared = {
        s for s in found if (s[:3] if s[0] == "ervaringswijzer" else s[:1]) in tested_programs
    }
    assert ours <= found, f"README lacks {sorted(ours - found)}"
    assert compared <= ours, f"README runs {sorted(compared - ours)}, which this module does not"


def test_readme_explains_every_nginx_placeholder():
    site = NGINX_SITE.read_text(encoding="utf-8")
    section = readme_production()
    assert set(re.findall(r"@[A-Z_]+@", site)) == set(NGINX_PLACEHOLDERS)
    for placeholder in NGINX_PLACEHOLDERS:
        assert placeholder in section, f"README Production does not explain {placeholder}"
    for path in ("deploy/nginx/ervaringswijzer.conf", "deploy/env.example", "deploy/systemd/"):
        assert path in section


# =============================================================================== the stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("stack")
    with production_stack(folder) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from tests.browser import chromium

    with chromium() as running:
        yield running


def https(stack: Stack) -> Any:
    """A requests session that verifies nginx's certificate against the test CA."""
    import requests

    session = requests.Session()
    session.verify = str(stack.certificates.ca_file)
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise replace `verify`
    return session


class Observed:
    """What a browser page saw: answers of 400 and above, and headers of our documents."""

    def __init__(self, stack: Stack, page: Any) -> None:
        self.stack = stack
        self.failures: list[str] = []
        self.documents: list[tuple[str, dict[str, str]]] = []
        page.on("response", self.on_response)

    def on_response(self, response: Any) -> None:
        if not response.url.startswith(self.stack.base_url):
            return
        if response.status >= 400:
            self.failures.append(f"{response.status} {response.request.method} {response.url}")
        if response.request.resource_type == "document":
            self.documents.append((response.url, response.headers))

    def assert_clean(self) -> None:
        assert not self.failures, f"answers of 400 and above: {self.failures}"
        assert self.documents
        for url, headers in self.documents:
            hsts = headers.get("strict-transport-security", "")
            assert hsts.startswith("max-age=31536000"), f"no HSTS on {url}"
            assert "," not in hsts and "\n" not in hsts, f"HSTS twice on {url}: {hsts!r}"


def csv_episodes(folder: Path, end: date) -> Path:
    """An episode CSV (DESIGN §4.1) with two families: parents only."""
    path = folder / "episodes.csv"
    rows = [
        [
            "episode_id",
            "end_date",
            "team",
            "municipality",
            "care_type",
            "youth_age",
            "parent_email",
        ],
        ["STACK-1", end.isoformat(), "Team Noord", "Amersfoort", "ambulant", "9", FAMILY_EMAIL],
        ["STACK-2", end.isoformat(), "Team Zuid", "Leusden", "ambulant", "10", SECOND_FAMILY_EMAIL],
    ]
    with path.open("w", newline="", encoding="utf-8") as out:
        csv.writer(out).writerows(rows)
    return path


@dataclass
class Mailed:
    """The invitations `ervaringswijzer send` delivered through the relay."""

    links: dict[str, str]  # recipient -> the survey link in the email
    over_tls: list[bool]  # per message: did it come over STARTTLS
    send_output: str


@pytest.fixture(scope="module")
def mailed(stack: Stack) -> Mailed:
    """Two families imported from an episode CSV; `send` mails them through the STARTTLS relay."""
    today = date.today()
    stack.cli_ok("import-episodes", str(csv_episodes(stack.folder, today - timedelta(days=2))))
    sent = stack.cli_ok("send", "--today", today.isoformat())
    links = {}
    for mail in stack.mail.received:
        body = mail.message.get_body(preferencelist=("plain",)).get_content()
        found = {m.group(0) for m in TOKEN_LINK.finditer(body)}
        assert len(found) == 1, f"expected one survey link, found {found}"
        (links[mail.rcpt_tos[0]],) = found
    return Mailed(links, list(stack.mail.over_tls), sent)


@dataclass
class Family:
    """What the first family's answer left behind for the other tests."""

    observed: Observed
    thanks_heading: str
    prepare: subprocess.Popen[str]  # `quotes prepare`, running while the staff sign in


@pytest.fixture(scope="module")
def family(browser: Any, stack: Stack, mailed: Mailed) -> Iterator[Family]:
    """The first family opens the emailed link in Chromium, answers and comments (quotable)."""
    from tests.browser import screenshot

    context = browser.new_context(ignore_https_errors=True, locale="nl-NL")
    page = context.new_page()
    observed = Observed(stack, page)
    page.goto(mailed.links[FAMILY_EMAIL])
    screenshot(page, "stack-survey")
    page.check("#self_direction-8", force=True)
    page.check("#usefulness-9", force=True)
    page.fill("#comment", COMMENT)
    page.check("#quote_consent", force=True)
    page.click("#submit")
    page.wait_for_url(re.compile(r".*/bedankt(\?.*)?$"))
    screenshot(page, "stack-thanks")
    heading = page.locator("h1").inner_text()
    context.close()
    # The comment becomes a quote candidate once de-identified (by send, worker or this). That
    # loads deduce (seconds), so it runs while the staff sign in; the quote test waits for it.
    prepare = stack.cli_background("quotes", "prepare")
    yield Family(observed, heading, prepare)
    if prepare.poll() is None:  # the quote test did not run
        prepare.kill()
        prepare.communicate()


def test_a_family_answers_from_the_emailed_link(stack, mailed, family):
    assert sorted(mailed.links) == sorted([FAMILY_EMAIL, SECOND_FAMILY_EMAIL])
    assert mailed.over_tls == [True, True], "the relay got mail without STARTTLS"
    for link in mailed.links.values():
        assert link.startswith(f"{stack.base_url}/s/")
    assert "Bedankt" in family.thanks_heading or "Thank you" in family.thanks_heading
    family.observed.assert_clean()
    survey_page = next(h for u, h in family.observed.documents if "/s/" in u)
    assert survey_page["referrer-policy"] == "no-referrer"
    assert count_rows(stack.database_url, "response") == 1
    # No token in any access log: nginx logs /s/[token], gunicorn's line is redacted by the app.
    tokens = [link.rsplit("/", 1)[1] for link in mailed.links.values()]
    nginx_log = (stack.nginx_logs / "ervaringswijzer.access.log").read_text()
    gunicorn_log = stack.gunicorn_log.read_text()
    assert '"GET /s/[token] HTTP/' in nginx_log and '"POST /s/[token] HTTP/' in nginx_log
    assert '"GET /s/[token] HTTP/' in gunicorn_log
    for token in tokens:
        assert token not in nginx_log and token not in gunicorn_log


def test_nginx_redirects_http_and_serves_the_installed_static_files(stack):
    session = https(stack)
    answer = session.get(f"{stack.http_url}/staff/login", allow_redirects=False, timeout=10)
    assert answer.status_code == 301
    assert answer.headers["Location"] == "https://localhost/staff/login"

    login = session.get(f"{stack.base_url}/staff/login", timeout=10).text
    linked = re.search(r'href="(/static/site\.css\?v=[0-9a-f]{12})"', login)
    assert linked, "the page links its stylesheet with a version"
    css = session.get(f"{stack.base_url}{linked.group(1)}", timeout=10)
    assert css.status_code == 200
    assert css.content == (stack.static_root / "site.css").read_bytes()
    assert css.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    unversioned = session.get(f"{stack.base_url}/static/site.css", timeout=10)
    assert unversioned.headers["Cache-Control"] == "public, max-age=86400"
    assert css.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert css.headers["X-Content-Type-Options"] == "nosniff"
    assert "gunicorn" not in css.headers.get("Server", "")

    health = session.get(f"{stack.base_url}/healthz", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    page = session.get(f"{stack.base_url}/staff/login", headers={"Accept-Encoding": "gzip"})
    assert page.status_code == 200
    assert "Content-Encoding" not in page.headers  # no compression of pages over TLS (BREACH)
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@dataclass
class Admin:
    """An admin signed in in Chromium; the page stays open from sign-in to sign-out."""

    context: Any
    page: Any
    observed: Observed


@pytest.fixture(scope="module")
def admin(stack: Stack, browser: Any) -> Iterator[Admin]:
    """The first admin, made with `users create`, signs in: password, then setting up TOTP."""
    from tests.browser import screenshot
    from tests.staff_helpers import enrolment_secret, totp_code

    stack.cli_ok(*users_create(ADMIN_EMAIL, "admin"), input=f"{PASSWORD}\n")
    context = browser.new_context(ignore_https_errors=True, accept_downloads=True, locale="nl-NL")
    page = context.new_page()
    observed = Observed(stack, page)
    page.goto(f"{stack.base_url}/staff/login")
    page.fill("input[name=email]", ADMIN_EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action$='/staff/login'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/staff/mfa$"))
    secret = enrolment_secret(page.content())
    qr_width = page.evaluate("document.querySelector('img.qr').naturalWidth")
    assert qr_width > 0, "the QR code image does not show"
    screenshot(page, "stack-mfa-setup")
    page.fill("input[name=code]", totp_code(secret))
    page.click("form[action$='/staff/mfa'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/staff/$"))
    screenshot(page, "stack-staff-home")
    yield Admin(context, page, observed)
    context.close()


def test_staff_sign_in_sets_a_secure_host_only_session_cookie(admin):
    cookies = {cookie["name"]: cookie for cookie in admin.context.cookies()}
    assert SESSION_COOKIE in cookies, f"cookies: {sorted(cookies)}"
    session_cookie = cookies[SESSION_COOKIE]
    assert session_cookie["secure"] and session_cookie["httpOnly"]
    assert session_cookie["path"] == "/" and session_cookie["sameSite"] == "Lax"
    assert not session_cookie["domain"].startswith(".")  # host-only, as __Host- demands
    admin.observed.assert_clean()


def test_staff_open_the_dashboard_and_download_exports(stack, admin):
    from tests.browser import screenshot

    page = admin.page
    page.click("nav.staff-nav a[href$='/staff/dashboard/']")
    page.wait_for_url(re.compile(r".*/staff/dashboard/$"))
    page.wait_for_load_state("networkidle")  # the charts' specs, fetched by the page's script
    screenshot(page, "stack-dashboard")
    with page.expect_download() as csv_download:
        page.locator("a[href*='/staff/dashboard/export.csv']").first.click()
    body = Path(csv_download.value.path()).read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(body), delimiter=";" if ";" in body.split("\n")[0] else ","))
    assert len(rows) >= 2 and len(rows[0]) >= 3, body[:300]
    with page.expect_download() as xlsx_download:
        page.locator("a[href*='/staff/dashboard/export.xlsx']").first.click()
    workbook = Path(xlsx_download.value.path()).read_bytes()
    assert workbook[:4] == b"PK\x03\x04"
    assert "xl/workbook.xml" in zipfile.ZipFile(io.BytesIO(workbook)).namelist()
    admin.observed.assert_clean()


def test_cross_site_posts_are_refused_and_store_nothing(stack, mailed):
    """Even with the session cookie and a valid form token (as if another site had got hold of
    both), a POST that the browser says comes from another site is refused."""
    from tests.pages import csrf_token

    session = https(stack)
    link = mailed.links[SECOND_FAMILY_EMAIL]
    before = count_rows(stack.database_url, "response")
    hostile = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    sign_in_token = csrf_token(session.get(f"{stack.base_url}/staff/login", timeout=10).text)
    survey_token = csrf_token(session.get(link, timeout=10).text)
    answers = {
        "sign-in": session.post(
            f"{stack.base_url}/staff/login",
            data={"csrf_token": sign_in_token, "email": ADMIN_EMAIL, "password": PASSWORD},
            headers=hostile,
            allow_redirects=False,
            timeout=10,
        ),
        "survey": session.post(
            link,
            data={"csrf_token": survey_token, "self_direction": "1", "usefulness": "1"},
            headers=hostile,
            allow_redirects=False,
            timeout=10,
        ),
    }
    for name, answer in answers.items():
        assert answer.status_code == 400, f"{name}: {answer.status_code}"
    assert count_rows(stack.database_url, "response") == before
    # The invitation is still open: its page shows the questionnaire, not "already answered".
    still_open = session.get(link, timeout=10)
    assert still_open.status_code == 200 and 'name="self_direction"' in still_open.text


def _wrong_password(stack: Stack, email: str) -> tuple[int, str]:
    """One sign-in with a wrong password, as a browser on the site would send it, over a new
    connection (`Connection: close`), so that either worker may answer."""
    from tests.pages import csrf_token

    session = https(stack)
    session.headers["Connection"] = "close"
    page = session.get(f"{stack.base_url}/staff/login", timeout=10)
    answer = session.post(
        f"{stack.base_url}/staff/login",
        data={"csrf_token": csrf_token(page.text), "email": email, "password": "niet het goede"},
        headers={"Origin": stack.base_url, "Sec-Fetch-Site": "same-origin"},
        allow_redirects=False,
        timeout=30,
    )
    return answer.status_code, answer.text


def test_the_sixth_wrong_password_is_refused_whichever_worker_answers(stack):
    workers = worker_pids(stack.gunicorn.pid)
    assert len(workers) == 2, f"gunicorn workers: {workers}"
    # Five at once: while one worker checks a password, the other takes the next connection. The
    # kernel decides who accepts, so a round in which one worker took all five proves nothing
    # about sharing: then the next round tries with a fresh account.
    for round_number in range(3):
        email = TARGET_EMAIL.replace("@", f"+{round_number}@")
        stack.cli_ok(*users_create(email, "quality"), input=f"{PASSWORD}\n")
        log_start = len(stack.gunicorn_log.read_text())
        with ThreadPoolExecutor(max_workers=5) as pool:
            first = list(pool.map(lambda _, e=email: _wrong_password(stack, e), range(5)))
        assert [status for status, _ in first] == [401] * 5
        log = stack.gunicorn_log.read_text()[log_start:]
        pattern = r'"POST /staff/login HTTP/[\d.]+" 401 \S+ \S+ <(\d+)>'
        answered_by = {int(pid) for pid in re.findall(pattern, log)}
        assert answered_by <= workers
        if len(answered_by) == 2:
            break
    assert len(answered_by) == 2, f"three rounds of five went to one worker each:\n{log}"
    sixth, page = _wrong_password(stack, email)
    assert sixth == 429, f"the 6th wrong password answered {sixth}"
    assert "Te veel pogingen" in page or "Too many attempts" in page


def test_a_backup_restores_into_a_fresh_database_that_passes_check(stack, mailed):
    dump = stack.folder / "ervaringswijzer.dump"
    restored = f"{stack.database}_restore"
    restored_url = stack.new_database(restored)
    owner = stack.server.username or "postgres"
    for command in (
        pg_dump(dump, stack.database),
        createdb(owner, restored),
        pg_restore(restored, dump),
    ):
        result = stack.pg(*command)
        assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout}\n{result.stderr}"
    for table in ("response", "invitation", "staff_user", "audit_event"):
        assert count_rows(restored_url, table) == count_rows(stack.database_url, table), table
    check = stack.cli(*CHECK, env={"DATABASE_URL": restored_url})
    assert check.returncode == 0, f"check on the restored copy:\n{check.stdout}\n{check.stderr}"
    assert restored in check.stdout
    # Right after a restore, purge again: an old dump brings back what purge had erased.
    stack.cli_ok(*PURGE, env={"DATABASE_URL": restored_url})


def wait_for_deidentified_comment(stack: Stack, prepare: subprocess.Popen[str]) -> str:
    """Until `quotes prepare` has ended; returns what it printed (raises when it failed).

    The command ends right after its commit: it does not spend seconds freeing deduce's lookup
    structures one by one (survey.cli, `_exit_without_teardown`).
    """
    output = stack.finish(prepare)
    assert count_rows(stack.database_url, "comment WHERE deidentified_text IS NOT NULL") == 1
    return output


def test_staff_approve_the_familys_quote_and_sign_out(stack, family, admin):
    from tests.browser import screenshot

    # `quotes prepare` has been de-identifying the family's comment since the family answered.
    assert "De-identified 1 comment" in wait_for_deidentified_comment(stack, family.prepare)
    page = admin.page
    page.click("nav.staff-nav a[href$='/staff/quotes/']")
    page.wait_for_url(re.compile(r".*/staff/quotes/$"))
    quote = page.locator("article.quote").first
    assert "luisterde" in quote.locator("textarea").input_value()
    screenshot(page, "stack-quotes")
    quote.locator("button[value=approve]").click()
    page.wait_for_load_state()
    assert page.locator(".notice[role=status]").count() == 1  # the decision's confirmation
    page.goto(f"{stack.base_url}/staff/quotes/?status=approved")
    assert page.locator("article.quote").count() == 1

    page.click("form[action$='/staff/logout'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/staff/login$"))
    page.goto(f"{stack.base_url}/staff/")
    assert "/staff/login" in page.url  # the session ended on the server
    admin.observed.assert_clean()


def test_the_stack_still_runs_and_logs_no_errors(stack):
    assert stack.gunicorn.poll() is None, tail(stack.gunicorn_log)
    assert stack.nginx.poll() is None
    log = stack.gunicorn_log.read_text()
    assert "Traceback" not in log, tail(stack.gunicorn_log)
    assert "Logging error" not in log  # the access-log format works with the token filter
