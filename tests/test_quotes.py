"""Quotes: consent, background de-identification, the review queue, exports and the infoblad."""

from __future__ import annotations

import csv
import html
import io
import json
import re

import pytest
from sqlalchemy import select

from survey import quotes
from survey.models import AuditEvent, Comment
from tests.factories import make_comment
from tests.pages import csrf_token, text_of
from tests.staff_helpers import get, request, signed_in_client
from tests.test_report import INFOBLAD, fill_region

PROVIDER = "MetMaya"  # the test app's PROVIDER_NAME


def prepare(app, db) -> int:
    return quotes.prepare_comments(db, app.config["PROVIDER_NAME"])


def decide(client, response_id: str, action: str, text: str | None = None, query: str = ""):
    """Press a button of one quote in the queue, as a browser would (CSRF token of the page).

    Without `text`, the text in the quote's own box is sent back unchanged.
    """
    page = get(client, f"/staff/quotes/?status={query}").get_data(as_text=True)
    if text is None:
        shown = re.search(rf'id="text-{response_id}"[^>]*>(.*?)</textarea>', page, re.S)
        assert shown, "the quote is not in the queue"
        text = html.unescape(shown.group(1)).strip()
    form = {"csrf_token": csrf_token(page), "action": action, "text": text}
    return request(client, "POST", f"/staff/quotes/{response_id}", data=form)


def test_a_comment_is_deidentified_in_the_background_and_highlighted(app, db):
    text = "Mijn begeleider Kees belde namens Team Leusden op 06-12345678."
    quote = make_comment(db, text, team="Team Leusden")
    assert db.get(Comment, quote).deidentified_text is None  # nothing heavy in the request
    assert prepare(app, db) == 1 and prepare(app, db) == 0
    db.expire_all()
    stored = db.get(Comment, quote)
    assert (
        stored.deidentified_text
        == "Mijn begeleider [naam] belde namens [team] op [telefoonnummer]."
    )
    client, _ = signed_in_client(app, db, "communications")
    page = get(client, "/staff/quotes/").get_data(as_text=True)
    assert "<mark>[naam]</mark>" in page and "<mark>[team]</mark>" in page
    assert "Kees" not in page and "06-12345678" not in page


def test_without_consent_a_comment_never_becomes_a_quote(app, db, runner, tmp_path):
    fill_region(db)
    private = make_comment(db, "Zonder toestemming: de wachttijd was lang.", consent=False)
    public = make_comment(db, "Met toestemming: fijne hulp gehad.")
    prepare(app, db)
    assert db.get(Comment, private).quote_status is None
    client, _ = signed_in_client(app, db, "communications")
    # Not in the queue, so no form; a hand-made POST for it is refused all the same.
    forged = decide(client, private, "approve", "Zonder toestemming")
    assert forged.status_code == 404
    assert decide(client, public, "approve").status_code == 302

    outputs = [get(client, "/staff/quotes/?status=").get_data(as_text=True)]
    for fmt in ("md", "csv"):
        outputs.append(get(client, f"/staff/quotes/export.{fmt}").get_data(as_text=True))
    for fmt in ("md", "html"):
        outputs.append(get(client, f"/staff/quotes/infoblad.{fmt}").get_data(as_text=True))
    outputs.append(runner.invoke(args=["quotes", "list", "--format", "json"]).output)
    outputs.append(runner.invoke(args=["quotes", "export", "--format", "md"]).output)
    for fmt in ("docx",):
        target = tmp_path / f"quotes.{fmt}"
        runner.invoke(args=["quotes", "export", "--format", fmt, "--output", str(target)])
        outputs.append(docx_text(target.read_bytes()))
    for output in outputs:
        assert "Met toestemming" in output
        assert "Zonder toestemming" not in output


def docx_text(body: bytes) -> str:
    from docx import Document

    document = Document(io.BytesIO(body))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def test_only_approved_quotes_are_exported(app, db, runner):
    new = make_comment(db, "Nieuw: nog niet beoordeeld.")
    approved = make_comment(db, "Goedgekeurd: er werd naar ons geluisterd.", group="youth")
    rejected = make_comment(db, "Afgewezen: te persoonlijk verhaal.")
    prepare(app, db)
    client, _ = signed_in_client(app, db, "communications")
    assert decide(client, approved, "approve").status_code == 302
    assert decide(client, rejected, "reject").status_code == 302

    md = get(client, "/staff/quotes/export.md").get_data(as_text=True)
    assert md == (
        "### Wat zeggen kinderen, jongeren en gezinnen zelf?\n\n"
        "> “Goedgekeurd: er werd naar ons geluisterd.” (jongere)\n\n"
        f"(Bron: Ervaringswijzer {PROVIDER})\n"
    )
    rows = list(csv.DictReader(io.StringIO(get(client, "/staff/quotes/export.csv").text)))
    assert [(r["attribution"], r["text"]) for r in rows] == [
        ("jongere", "Goedgekeurd: er werd naar ons geluisterd.")
    ]
    listed = json.loads(runner.invoke(args=["quotes", "list", "--format", "json"]).output)
    assert {(q["id"], q["status"]) for q in listed} == {
        (new, "new"),
        (approved, "approved"),
        (rejected, "rejected"),
    }
    assert all(set(q) >= {"id", "group", "status", "text"} for q in listed)


def test_an_edit_is_what_gets_published_and_every_decision_is_audited(app, db):
    quote = make_comment(db, "Sanne was heel lief en hielp ons echt.")
    prepare(app, db)
    client, user = signed_in_client(app, db, "communications")
    assert decide(client, quote, "save", "[naam] hielp ons echt.").status_code == 302
    assert decide(client, quote, "approve").status_code == 302
    export = get(client, "/staff/quotes/export.md").get_data(as_text=True)
    assert "“[naam] hielp ons echt.” (ouder)" in export
    empty = decide(client, quote, "approve", "   ", query="approved")
    assert empty.status_code == 302  # refused, with a message; the text stays
    message = text_of(get(client, empty.headers["Location"]).text)
    assert "Er is niets gewijzigd: het citaat mag niet leeg zijn." in message
    db.expire_all()
    assert db.get(Comment, quote).quote_text == "[naam] hielp ons echt."
    # Editing an approved quote takes it back to review: what is published was approved.
    assert decide(client, quote, "save", "Hielp ons echt.", query="approved").status_code == 302
    db.expire_all()
    assert db.get(Comment, quote).quote_status == "new"
    assert "hielp ons echt" not in get(client, "/staff/quotes/export.md").text.lower()
    events = db.execute(
        select(AuditEvent.action, AuditEvent.actor_id, AuditEvent.object_id, AuditEvent.detail)
        .where(AuditEvent.object_type == "quote")
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.detail) for e in events] == [
        ("quote_save", "text edited"),
        ("quote_approve", None),
        ("quote_save", "text edited"),
    ]
    assert all(e.actor_id == user.id and e.object_id == quote for e in events)


def test_only_an_admin_sees_the_original_and_that_is_audited(app, db):
    quote = make_comment(db, "Juf Marieke van De Regenboog belde ons.")
    prepare(app, db)
    communications, _ = signed_in_client(app, db, "communications")
    assert "Marieke" not in get(communications, "/staff/quotes/").text
    assert get(communications, f"/staff/quotes/{quote}/original").status_code == 403
    admin, admin_user = signed_in_client(app, db, "admin")
    page = get(admin, f"/staff/quotes/{quote}/original")
    assert page.status_code == 200 and "Juf Marieke van De Regenboog belde ons." in page.text
    db.rollback()
    views = db.execute(
        select(AuditEvent.actor_id, AuditEvent.object_id).where(
            AuditEvent.action == "view_original"
        )
    ).all()
    assert views == [(admin_user.id, quote)]


def test_a_comment_about_danger_is_flagged_in_the_queue(app, db):
    make_comment(db, "Thuis was het onveilig en niemand deed iets.")
    make_comment(db, "Het was fijn en rustig.")
    prepare(app, db)
    client, _ = signed_in_client(app, db, "communications")
    text = text_of(get(client, "/staff/quotes/").get_data(as_text=True))
    assert text.count("Let op: deze opmerking gaat over veiligheid of gevaar") == 1


def test_the_queue_filters_by_group(app, db):
    make_comment(db, "Jongere zegt: het hielp.", group="youth")
    make_comment(db, "Ouder zegt: het hielp.", group="parent")
    prepare(app, db)
    client, _ = signed_in_client(app, db, "communications")
    youth = text_of(get(client, "/staff/quotes/?group=youth").get_data(as_text=True))
    assert "Jongere zegt" in youth and "Ouder zegt" not in youth


@pytest.fixture
def published_region(app, db):
    """The infoblad fixture plus two approved quotes and one new one."""
    fill_region(db)
    for text, group in (
        ("Er werd naar ons én het kind geluisterd.", "parent"),
        ("Ik heb betere handvaten om met moeilijke periodes om te gaan.", "youth"),
    ):
        comment = make_comment(db, text, group=group)
        db.get(Comment, comment).quote_status = "approved"
    make_comment(db, "Nog niet beoordeeld.")
    db.commit()
    prepare(app, db)


def test_infoblad_markdown_has_the_seed_layout(app, db, runner, published_region):
    output = runner.invoke(args=["infoblad", "--format", "md"]).output
    # fill_region's 30 responses plus the three with comments (made through the same service).
    assert output.startswith("## Uitkomsten Ervaringswijzer\n\nSinds de start kregen jongeren")
    assert "| Aantal uitgezet/ respons |" in output
    assert "### Wat zeggen kinderen, jongeren en gezinnen zelf?" in output
    assert "> “Er werd naar ons én het kind geluisterd.” (ouder)" in output
    assert "> “Ik heb betere handvaten om met moeilijke periodes om te gaan.” (jongere)" in output
    assert "Nog niet beoordeeld" not in output
    assert output.rstrip().endswith(f"(Bron: Ervaringswijzer {PROVIDER})")


def test_infoblad_docx_opens_with_table_chart_and_quotes(app, db, published_region):
    from docx import Document

    client, _ = signed_in_client(app, db, "communications")
    answer = get(client, "/staff/quotes/infoblad.docx")
    assert answer.headers["Content-Disposition"].endswith('.docx"')
    document = Document(io.BytesIO(answer.get_data()))
    assert document.paragraphs[0].text == "Uitkomsten Ervaringswijzer"
    table = [[cell.text for cell in row.cells] for row in document.tables[0].rows]
    assert table[0] == ["", "Jongeren", "Ouders"]
    assert table[1][0] == "Aantal uitgezet/ respons"
    assert len(document.inline_shapes) == 1  # the chart
    image = document.inline_shapes[0]._inline.graphic.graphicData.pic.blipFill.blip.embed
    assert document.part.related_parts[image].blob[:8] == b"\x89PNG\r\n\x1a\n"
    quotes_text = [p.text for p in document.paragraphs]
    assert "“Er werd naar ons én het kind geluisterd.” (ouder)" in quotes_text
    assert quotes_text[-1] == f"(Bron: Ervaringswijzer {PROVIDER})"
    db.rollback()
    assert (
        "docx"
        in db.scalars(
            select(AuditEvent.object_id).where(AuditEvent.object_type == "infoblad")
        ).all()
    )


def test_infoblad_html_has_the_table_the_chart_and_the_quotes(app, db, published_region):
    client, _ = signed_in_client(app, db, "quality")
    page = get(client, "/staff/quotes/infoblad.html?from=2000-01-01&to=2100-12-31").text
    assert "<h2>Uitkomsten Ervaringswijzer</h2>" in page
    assert "Van 1 januari 2000 tot en met 31 december 2100 kregen" in page
    assert '<img src="data:image/png;base64,' in page
    assert (
        "<blockquote><p>“Er werd naar ons én het kind geluisterd.” (ouder)</p></blockquote>" in page
    )


def test_infoblad_table_is_the_report_table(app, db, runner):
    fill_region(db)
    output = runner.invoke(args=["infoblad", "--format", "md"]).output
    assert INFOBLAD in output
    assert output.endswith("(Nog geen goedgekeurde citaten voor deze periode.)\n")


def test_quality_staff_see_deidentified_comments_of_large_cohorts_only(app, db):
    fill_region(db)  # 30 responses in Team 0, 1 and 2, no comments
    make_comment(db, "Anouk uit Leusden hielp ons heel goed.", team="Team Groot")
    for _ in range(4):
        make_comment(db, "Prima.", team="Team Groot")
    make_comment(db, "Het kleine team was top.", team="Team Klein")
    prepare(app, db)
    client, _ = signed_in_client(app, db, "quality")
    large = text_of(get(client, "/staff/dashboard/comments?team=Team+Groot").text)
    assert "[naam] uit [plaats] hielp ons heel goed." in large and "Anouk" not in large
    small = text_of(get(client, "/staff/dashboard/comments?team=Team+Klein").text)
    assert "te weinig reacties" in small and "kleine team" not in small
    viewer, _ = signed_in_client(app, db, "viewer")
    assert get(viewer, "/staff/dashboard/comments").status_code == 403


def test_the_send_command_deidentifies_new_comments(app, db, runner):
    make_comment(db, "Bel me op 0612345678.")
    output = runner.invoke(args=["send"]).output
    assert "De-identified 1 new comment(s) for review." in output
    db.expire_all()
    assert db.scalars(select(Comment.deidentified_text)).all() == ["Bel me op [telefoonnummer]."]


def test_the_worker_deidentifies_new_comments(app, db, runner):
    make_comment(db, "Mijn mentor Femke hielp echt.")
    output = runner.invoke(args=["worker", "--until-empty", "--interval", "0.1"]).output
    assert "Worker stopped." in output
    db.expire_all()
    assert db.scalars(select(Comment.deidentified_text)).all() == ["Mijn mentor [naam] hielp echt."]


def test_a_comment_that_fails_deidentification_stays_hidden_and_mail_goes_on(
    app, db, monkeypatch, caplog
):
    from survey import deidentify

    broken = make_comment(db, "Dit gaat mis.")
    fine = make_comment(db, "Dit gaat goed.")

    real = deidentify.Deidentifier.deidentify

    def fail_once(self, text, language="nl"):
        if text == "Dit gaat mis.":
            raise RuntimeError(f"deduce tripped on {text!r}")
        return real(self, text, language)

    monkeypatch.setattr(deidentify.Deidentifier, "deidentify", fail_once)
    prepare(app, db)
    db.expire_all()
    assert db.get(Comment, broken).deidentified_text is None  # never shown while waiting
    assert db.get(Comment, fine).deidentified_text == "Dit gaat goed."
    assert "de-identification failed" in caplog.text and "gaat mis" not in caplog.text
    monkeypatch.setattr(deidentify.Deidentifier, "deidentify", real)
    assert prepare(app, db) == 1


def test_the_queue_shows_a_page_at_a_time_and_a_decision_returns_to_it(app, db):
    for n in range(27):
        make_comment(db, f"Opmerking nummer {n:02d}: het hielp.")
    prepare(app, db)
    client, _ = signed_in_client(app, db, "communications")
    first = text_of(get(client, "/staff/quotes/").text)
    assert "27 citaten · pagina 1 van 2" in first and first.count("het hielp.") == 25 * 2
    second = get(client, "/staff/quotes/?page=2").text
    ids = re.findall(r'id="text-([0-9a-f-]{36})"', second)
    assert len(ids) == 2
    answer = request(
        client,
        "POST",
        f"/staff/quotes/{ids[0]}?page=2",
        data={"csrf_token": csrf_token(second), "action": "reject", "text": "Het hielp."},
    )
    assert answer.status_code == 302 and "page=2" in answer.headers["Location"]
    last = text_of(get(client, "/staff/quotes/?page=99&status=").text)  # the last page instead
    assert "pagina 2 van 2" in last
    assert get(client, "/staff/quotes/?page=%C2%B2").status_code == 200


def test_markup_in_a_comment_stays_text_in_the_queue_and_in_every_export(app, db):
    text = 'Top!\n# Kop <b>vet</b> <script>alert(1)</script> *ster* & "aanhalingsteken"'
    quote = make_comment(db, text)
    prepare(app, db)
    client, _ = signed_in_client(app, db, "communications")
    queue = get(client, "/staff/quotes/").text
    assert "<script>alert" not in queue and "&lt;script&gt;" in queue
    assert decide(client, quote, "approve").status_code == 302
    md = get(client, "/staff/quotes/export.md").text
    line = next(line for line in md.splitlines() if "Top!" in line)
    assert line.startswith("> “Top! \\# Kop") or line.startswith("> “Top! # Kop")
    assert "<b>" not in md and "&lt;script&gt;" in md and "\\*ster\\*" in md
    assert md.count("\n> ") == 1  # one quote, one line
    page = get(client, "/staff/quotes/infoblad.html").text
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
