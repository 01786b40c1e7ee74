"""Stored XSS and template injection: payloads typed, uploaded or imported come back as text.

Pages are read with BeautifulSoup, so a payload is checked in the element that shows it.
"""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from email import message_from_bytes, policy

from sqlalchemy import func, select

from survey.models import Episode, ResponseAnswer, StaffUser
from tests.factories import EPISODE_CSV_HEADER, make_invited
from tests.pages import csrf_token, field_error, parts, soup, table_rows, text_of
from tests.security_helpers import (
    ESCAPED_XSS,
    PAYLOAD,
    SSTI,
    XSS,
    goes_to,
)
from tests.staff_helpers import (
    get,
    post_form,
    request,
    signed_in_client,
    submit_password,
)

# -- 3. stored XSS and template injection ------------------------------------------------------


def assert_inert(body: str) -> None:
    """No live markup from a payload, and no evaluated template expression."""
    assert "<svg" not in body.lower()
    assert "alert(1)>" not in body.replace("&gt;", "")  # never an unescaped closing bracket


def episodes_file(rows: list[list[str]], header: str = EPISODE_CSV_HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header.split(","))
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def payload_rows(ended: date) -> list[list[str]]:
    day = ended.isoformat()
    return [
        ["X1", day, PAYLOAD, PAYLOAD, "Begeleiding", "15", "", "ouder1@example.org", "nl"],
        ["X2", day, SSTI, XSS, PAYLOAD, "", "", "ouder2@example.org", "en"],
    ]


def upload(client, content: bytes, filename: str = "export.csv"):
    page = get(client, "/staff/admin/import").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "file": (io.BytesIO(content), filename)}
    return request(client, "POST", "/staff/admin/import", data=data)


def shown_text(response) -> str:
    """What a browser would render of a response: a download (XLSX) renders nothing."""
    if not response.mimetype.startswith(("text/", "application/json")):
        return ""
    return response.get_data(as_text=True)


def staff_pages(app) -> list[str]:
    """Every staff page that can be opened without parameters."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/staff") and "GET" in rule.methods and not rule.arguments
    )


def test_comment_payload_comes_back_escaped_in_the_form(client, db):
    _, token = make_invited(db)
    page = get(client, f"/s/{token}").get_data(as_text=True)
    data = {"csrf_token": csrf_token(page), "usefulness": "7", "comment": PAYLOAD}
    answer = request(client, "POST", f"/s/{token}", data=data)  # the required mark is missing
    assert answer.status_code == 400
    body = answer.get_data(as_text=True)
    assert_inert(body)
    textarea = soup(body).find("textarea", attrs={"name": "comment"})
    assert textarea
    assert textarea.find(True) is None  # only text inside: the payload made no element
    assert ESCAPED_XSS in body and SSTI in textarea.get_text()
    assert "49" not in textarea.get_text()
    assert textarea.get_text() == PAYLOAD

    data |= {"csrf_token": csrf_token(body), "self_direction": "8"}
    thanks = request(client, "POST", f"/s/{token}", data=data)
    assert thanks.status_code == 302
    assert_inert(get(client, thanks.headers["Location"]).get_data(as_text=True))
    db.rollback()
    stored = db.scalar(select(ResponseAnswer.value_text).where(ResponseAnswer.item_id == "comment"))
    assert stored == PAYLOAD  # stored as typed: escaping happens where it is shown


def test_uploaded_team_and_municipality_payloads_are_inert(app, db):
    admin, _ = signed_in_client(app, db, "admin")
    content = episodes_file(payload_rows(date.today() - timedelta(days=3)))
    # (Without the quote: the test client would not escape it in the multipart header.)
    answer = upload(admin, content, filename="<svg onload=alert(1)>.csv")
    assert answer.status_code == 200, text_of(answer.get_data(as_text=True))
    assert_inert(answer.get_data(as_text=True))
    assert "Rows read: 2" in text_of(answer.get_data(as_text=True))
    db.rollback()
    stored = set(db.execute(select(Episode.team, Episode.municipality, Episode.care_type)))
    assert stored == {(PAYLOAD, PAYLOAD, "Begeleiding"), (SSTI, XSS, PAYLOAD)}
    for path in staff_pages(app):
        assert_inert(shown_text(get(admin, path)))


def test_a_refused_upload_quotes_bad_values_escaped(app, db):
    admin, _ = signed_in_client(app, db, "admin")
    day = date.today().isoformat()
    rows = [
        ["R1", XSS, "Team", "Soest", "Begeleiding", "", "", "", "nl"],
        ["R2", SSTI, "Team", "Soest", "Begeleiding", "", "", "", "nl"],
        [XSS, day, "Team", "Soest", "Begeleiding", "", "", "", "nl"],
        [XSS, day, "Team", "Soest", "Begeleiding", "", "", "", "nl"],
    ]
    answer = upload(admin, episodes_file(rows))
    assert answer.status_code == 400
    body = answer.get_data(as_text=True)
    assert_inert(body)
    text = text_of(body)
    assert f"'{XSS[:20]}…' is not a date" in text
    assert f"'{SSTI}' is not a date" in text
    assert f"'{XSS}' also on line 4" in text
    assert "'49'" not in text
    assert "&lt;svg onload" in body

    header = f'{EPISODE_CSV_HEADER},"{XSS.replace(chr(34), chr(34) * 2)}",{SSTI}'
    answer = upload(admin, f"{header}\n".encode())
    assert answer.status_code == 400
    body = answer.get_data(as_text=True)
    assert_inert(body)
    columns = [row[1] for row in table_rows(body, "table.errors") if row[0] == "1"]
    assert XSS in columns and SSTI in columns
    db.rollback()
    assert db.scalar(select(func.count(Episode.id))) == 0
    assert_inert(get(admin, "/staff/admin/audit").get_data(as_text=True))


def test_payloads_imported_on_the_command_line_stay_out_of_pages_and_emails(
    app, runner, db, tmp_path
):
    today = date.today()
    path = tmp_path / "export.csv"
    path.write_bytes(episodes_file(payload_rows(today - timedelta(days=3))))
    imported = runner.invoke(args=["import-episodes", str(path)])
    assert imported.exit_code == 0, imported.output
    sent = runner.invoke(args=["send", "--today", today.isoformat()])
    assert sent.exit_code == 0, sent.output

    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    for file in files:
        message = message_from_bytes(file.read_bytes(), policy=policy.default)
        bodies = parts(message)
        assert set(bodies) == {"plain", "html"}
        for body in (*bodies.values(), str(message["Subject"])):
            assert "svg" not in body and "alert(" not in body and SSTI not in body
    admin, _ = signed_in_client(app, db, "admin")
    for page in staff_pages(app):
        assert_inert(shown_text(get(admin, page)))


def test_staff_emails_cannot_carry_markup_and_template_text_stays_text(app, runner, db):
    admin, _ = signed_in_client(app, db, "admin")
    strong = "een lang en sterk wachtwoord"
    refused = post_form(
        admin,
        "/staff/admin/users",
        {"email": f"{XSS}@example.org", "role": "viewer", "password": strong},
    )
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert_inert(body)
    assert field_error(body, "email") == "Fout: Dit is geen geldig e-mailadres."
    assert ESCAPED_XSS in body  # the typed value is shown back, as text
    cli = runner.invoke(
        args=["users", "create", f"{XSS}@example.org", "--role", "viewer", "--password-stdin"],
        input=f"{strong}\n",
    )
    assert cli.exit_code == 1 and "not a valid email address" in cli.output
    db.rollback()
    assert db.scalar(select(func.count()).where(StaffUser.email.contains("svg"))) == 0

    # Braces are allowed in an address: they must show as typed, never evaluated.
    templated = f"{SSTI}@example.org"
    created = post_form(
        admin, "/staff/admin/users", {"email": templated, "role": "viewer", "password": strong}
    )
    assert goes_to(created, "/staff/admin/users")
    users_page = get(admin, "/staff/admin/users").get_data(as_text=True)
    assert f"<td>{templated}</td>" in users_page
    assert "49@example.org" not in users_page
    signing_in = app.test_client()
    failed = submit_password(signing_in, templated, "niet het goede wachtwoord")
    assert failed.status_code == 401
    assert_inert(
        submit_password(signing_in, XSS, "niet het goede wachtwoord").get_data(as_text=True)
    )
    audit_page = get(admin, "/staff/admin/audit").get_data(as_text=True)
    assert_inert(audit_page)
    assert f"<td>{templated}</td>" in audit_page and "49@example.org" not in audit_page
