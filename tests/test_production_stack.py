"""The production set-up of README "Production", tried for real: deploy/ and its commands.

One stack for the module (tests/stack.py): nginx with deploy/nginx/ervaringswijzer.conf →
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
e. a `pg_dump -Fc` backup restores into a fresh database that `ervaringswijzer check` passes;
f. a provider's quality officer (`users create --provider`) signs in and sees that provider only.

Chromium on Linux takes no CA file, so its browser contexts ignore certificate errors; every
request made here with `requests` verifies nginx's certificate against the test CA instead
(`verify=` the CA file), so the TLS set-up itself is checked, just not by the browser.

The fast checks of deploy/ and the README (no services) are in tests/test_deploy_config.py and
tests/test_readme_production.py; the helpers in tests/stack_clients.py.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.pages import soup
from tests.stack import Stack, production_stack
from tests.stack_clients import (
    ADMIN_EMAIL,
    COMMENT,
    FAMILY_EMAIL,
    PASSWORD,
    SECOND_FAMILY_EMAIL,
    TARGET_EMAIL,
    Admin,
    Family,
    Mailed,
    Observed,
    _wrong_password,
    csv_episodes,
    https,
    wait_for_deidentified_comment,
)
from tests.stack_files import CHECK, PURGE, createdb, pg_dump, pg_restore, users_create
from tests.stack_services import count_rows, tail, worker_pids

SESSION_COOKIE = "__Host-ervaringswijzer_session"
TOKEN_LINK = re.compile(r"https://[^\s\"'<>]+/s/[A-Za-z0-9_-]{20,}")


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


@pytest.fixture(scope="module")
def mailed(stack: Stack) -> Mailed:
    """Two families imported from an episode CSV; `send` mails them through the STARTTLS relay."""
    today = date.today()
    stack.cli_ok("import-episodes", str(csv_episodes(stack.folder, today - timedelta(days=2))))
    sent = stack.cli_ok("send", "--today", today.isoformat())
    links = {}
    for mail in stack.mail.received:
        body = mail.message.get_body(preferencelist=("plain",)).get_content()
        if "/staff/link/" in body:
            continue  # a staff member's account link, not a family's invitation
        found = {m.group(0) for m in TOKEN_LINK.finditer(body)}
        assert len(found) == 1, f"expected one survey link, found {found}"
        (links[mail.rcpt_tos[0]],) = found
    return Mailed(links, list(stack.mail.over_tls), sent)


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
    linked = [
        link["href"]
        for link in soup(login).find_all("link", href=True)
        if re.fullmatch(r"/static/site\.css\?v=[0-9a-f]{12}", link["href"])
    ]
    assert linked, "the page links its stylesheet with a version"
    css = session.get(f"{stack.base_url}{linked[0]}", timeout=10)
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


def first_sign_in(stack: Stack, browser: Any, email: str, shots: str | None = None) -> Admin:
    """A new account signs in for the first time in Chromium: password, then setting up TOTP
    (`shots`: the prefix of the screenshots of both steps)."""
    from tests.browser import screenshot
    from tests.staff_helpers import enrolment_secret, totp_code

    context = browser.new_context(ignore_https_errors=True, accept_downloads=True, locale="nl-NL")
    page = context.new_page()
    observed = Observed(stack, page)

    def password_step() -> None:
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("form[action$='/staff/login'] button[type=submit]")
        page.wait_for_url(re.compile(r".*/staff/mfa$"))

    page.goto(f"{stack.base_url}/staff/login")
    password_step()
    # The password alone registers no authenticator: a link goes to the account's address
    # (through the STARTTLS relay), and the set-up needs it and the password.
    assert "Kijk in uw e-mail" in page.content()
    if shots:
        screenshot(page, f"{shots}-mfa-link-sent")
    links = [
        link
        for mail in stack.mail.received
        if mail.rcpt_tos == [email]
        for link in re.findall(
            r"https://\S+/staff/link/[A-Za-z0-9_-]+",
            mail.message.get_body(("plain",)).get_content(),
        )
    ]
    assert links, f"no set-up link mailed to {email}"
    page.goto(links[-1])
    page.wait_for_url(re.compile(r".*/staff/login$"))
    password_step()
    secret = enrolment_secret(page.content())
    qr_width = page.evaluate("document.querySelector('img.qr').naturalWidth")
    assert qr_width > 0, "the QR code image does not show"
    if shots:
        screenshot(page, f"{shots}-mfa-setup")
    page.fill("input[name=code]", totp_code(secret))
    page.click("form[action$='/staff/mfa'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/staff/$"))
    if shots:
        screenshot(page, f"{shots}-staff-home")
    return Admin(context, page, observed)


@pytest.fixture(scope="module")
def admin(stack: Stack, browser: Any) -> Iterator[Admin]:
    """The first admin, made with `users create`, signs in: password, then setting up TOTP."""
    stack.cli_ok(*users_create(ADMIN_EMAIL, "admin"), input=f"{PASSWORD}\n")
    signed_in = first_sign_in(stack, browser, ADMIN_EMAIL, shots="stack")
    yield signed_in
    signed_in.context.close()


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


def test_a_provider_account_sees_only_its_own_provider_over_https(stack, browser, admin):
    """A second provider joins the region; its quality officer, made with `users create
    --provider`, signs in over https and sees that provider's page only: its name, the region
    beside, none of the first provider's teams, no startfoto of a municipality (403 by URL)."""
    from tests.browser import screenshot

    stack.cli_ok("providers", "add", "kompas", "--name", "Jeugdzorg Kompas")
    email = "kwaliteit@kompas.example.nl"
    stack.cli_ok(*users_create(email, "quality"), "--provider", "kompas", input=f"{PASSWORD}\n")
    officer = first_sign_in(stack, browser, email)
    page = officer.page
    page.click("nav.staff-nav a[href$='/staff/dashboard/']")
    page.wait_for_url(re.compile(r".*/staff/dashboard/$"))
    page.wait_for_load_state("networkidle")
    screenshot(page, "stack-provider-dashboard")
    shown = page.inner_text("main")
    assert "Jeugdzorg Kompas" in page.inner_text("h1")
    assert "Team Noord" not in shown and "Team Zuid" not in shown  # the first provider's teams
    assert page.inner_text(".brand") == "Ervaringswijzer Jeugdzorg Kompas"
    assert page.locator("a[href*='startfoto']").count() == 0
    cookies = {c["name"]: c["value"] for c in officer.context.cookies()}
    client = https(stack)
    client.cookies.set(SESSION_COOKIE, cookies[SESSION_COOKIE])
    assert client.get(f"{stack.base_url}/staff/dashboard/startfoto.docx").status_code == 403
    assert client.get(f"{stack.base_url}/staff/admin/users").status_code == 403
    officer.observed.assert_clean()
    officer.context.close()


def test_the_stack_still_runs_and_logs_no_errors(stack):
    assert stack.gunicorn.poll() is None, tail(stack.gunicorn_log)
    assert stack.nginx.poll() is None
    log = stack.gunicorn_log.read_text()
    assert "Traceback" not in log, tail(stack.gunicorn_log)
    assert "Logging error" not in log  # the access-log format works with the token filter
