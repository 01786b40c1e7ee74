"""Quotes: consent, background de-identification, the review queue, exports and the infoblad."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import date, timedelta

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
    fill_region(db)  # the queue lists a group only when its figures are published
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
    fill_region(db)
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
    fill_region(db)
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
    fill_region(db)
    quote = make_comment(db, "Juf Marieke van De Regenboog belde ons.")
    prepare(app, db)
    communications, _ = signed_in_client(app, db, "communications")
    queue = get(communications, "/staff/quotes/").text
    assert f'id="text-{quote}"' in queue and "Marieke" not in queue
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
    fill_region(db)
    make_comment(db, "Thuis was het onveilig en niemand deed iets.")
    make_comment(db, "Het was fijn en rustig.")
    prepare(app, db)
    client, _ = signed_in_client(app, db, "communications")
    text = text_of(get(client, "/staff/quotes/").get_data(as_text=True))
    assert text.count("Let op: deze opmerking gaat over veiligheid of gevaar") == 1


def test_the_queue_filters_by_group(app, db):
    fill_region(db)
    make_comment(db, "Jongere zegt: het hielp.", group="youth")
    make_comment(db, "Ouder zegt: het hielp.", group="parent")
    prepare(app, db)
    client, _ = signed_in_client(app, db, "communications")
    youth = text_of(get(client, "/staff/quotes/?group=youth").get_data(as_text=True))
    assert "Jongere zegt" in youth and "Ouder zegt" not in youth
    both = text_of(get(client, "/staff/quotes/?group=").get_data(as_text=True))
    assert "Jongere zegt" in both and "Ouder zegt" in both


def test_the_queue_lists_a_period_of_published_groups_without_months_per_quote(app, db):
    for n in range(5):  # parents of February 2026: five responses, a published group
        make_comment(db, f"Ouder {n} in februari: fijn.", end_date=date(2026, 2, 10))
    make_comment(db, "Eén jongere in mei 2025.", group="youth", end_date=date(2025, 5, 10))
    prepare(app, db)
    client, _ = signed_in_client(app, db, "communications")
    page = get(client, "/staff/quotes/?period=2026-Q1").text
    text = text_of(page)
    assert text.count("in februari: fijn.") == 5 * 2  # each in its quote and its text box
    assert "2026-02" not in text  # no month per quote
    assert "Hulp afgesloten in 1e kwartaal 2026." in text  # the period, once
    assert "de citaten van jongeren uit deze periode zijn niet te zien" in text  # none in Q1
    assert re.search(r'<option value="2026-Q1" selected>1e kwartaal 2026</option>', page)
    links = re.findall(r'href="(/staff/quotes/infoblad\.[a-z]+\?[^"]*)"', page)
    assert links and all(html.unescape(u).endswith("period=2026-Q1") for u in links)

    youth = text_of(get(client, "/staff/quotes/?period=2025&group=youth").text)
    assert "te weinig reacties" in youth and "Eén jongere" not in youth  # one response only
    assert "0 citaten" in youth
    free = get(client, "/staff/quotes/?from=2026-01-01&to=2026-02-15").text
    assert '<option value="2026" selected>' in free  # a free range gives the default period


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
    # fill_region's 30 responses plus the three with comments (made through the same service),
    # for the default period: the year of the newest data.
    year = (date.today() - timedelta(days=1)).year
    assert output.startswith(
        f"## Uitkomsten Ervaringswijzer\n\nVan 1 januari {year} tot en met 31 december {year} "
        "kregen jongeren"
    )
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
    year = (date.today() - timedelta(days=1)).year  # fill_region's care ended yesterday
    client, _ = signed_in_client(app, db, "quality")
    page = get(client, f"/staff/quotes/infoblad.html?period={year}").text
    assert "<h2>Uitkomsten Ervaringswijzer</h2>" in page
    assert f"Van 1 januari {year} tot en met 31 december {year} kregen" in page
    assert '<img src="data:image/png;base64,' in page
    assert (
        "<blockquote><p>“Er werd naar ons én het kind geluisterd.” (ouder)</p></blockquote>" in page
    )


def test_infoblad_table_is_the_report_table(app, db, runner):
    fill_region(db)
    output = runner.invoke(args=["infoblad", "--format", "md"]).output
    assert INFOBLAD in output
    assert output.endswith("(Nog geen goedgekeurde citaten voor deze periode.)\n")


def test_the_infoblad_download_is_for_the_chosen_period(app, db):
    for n in range(5):
        make_comment(db, f"Opmerking {n}.", end_date=date(2026, 2, 10))
    for n in range(5):
        make_comment(db, f"Later {n}.", end_date=date(2026, 5, 10))
    prepare(app, db)
    client, _ = signed_in_client(app, db, "communications")
    quarter = get(client, "/staff/quotes/infoblad.md?period=2026-Q1").text
    assert "Van 1 januari 2026 tot en met 31 maart 2026 kregen" in quarter
    assert "5 uitgezet / 5 respons" in quarter  # February only, not May
    for query in ("period=2026-Q5", "period=%3Cb%3E", "from=2026-01-01&to=2026-02-15", ""):
        default = get(client, f"/staff/quotes/infoblad.md?{query}").text
        assert "Van 1 januari 2026 tot en met 31 december 2026 kregen" in default, query
    assert audited(db, AuditEvent.detail, AuditEvent.object_type == "infoblad")[0] == "2026-Q1"


def audited(db, column, condition) -> list:
    """One column of the audit events that match `condition`, oldest first (as committed)."""
    db.rollback()
    return db.scalars(select(column).where(condition).order_by(AuditEvent.id)).all()


def comments_of(client, query: str) -> str:
    page = get(client, f"/staff/dashboard/comments?{query}")
    assert page.status_code == 200
    return text_of(page.text)


def test_comments_are_shown_per_group_and_period_only_when_published(app, db):
    make_comment(db, "Anouk uit Leusden hielp ons heel goed.", end_date=date(2026, 2, 10))
    for _ in range(4):  # five parents in February 2026: their figures are published
        make_comment(db, "Prima.", end_date=date(2026, 2, 12))
    make_comment(db, "Het kleine team was top.", group="youth", end_date=date(2025, 5, 10))
    prepare(app, db)
    client, _ = signed_in_client(app, db, "quality")

    page = get(client, "/staff/dashboard/comments?group=parent&period=2026-Q1").text
    assert 'name="team"' not in page and 'name="municipality"' not in page
    assert 'name="care_type"' not in page and 'name="from"' not in page
    assert '<option value="">' not in page  # no "All": a group is always chosen
    large = text_of(page)
    assert "[naam] uit [plaats] hielp ons heel goed." in large and "Anouk" not in large
    assert "5 opmerkingen" in large and "te weinig reacties" not in large
    for query in ("group=parent&period=2026-02", "group=parent&period=2026"):
        assert "5 opmerkingen" in comments_of(client, query)

    # One youth in May 2025: below MIN_CELL_SIZE in every period, so never shown.
    for query in ("group=youth&period=2025-05", "group=youth&period=2025"):
        small = comments_of(client, query)
        assert "te weinig reacties" in small and "kleine team" not in small
    # No parents in the second quarter of 2025, and no youths in 2026.
    assert "te weinig reacties" in comments_of(client, "group=parent&period=2025-Q2")
    assert "te weinig reacties" in comments_of(client, "group=youth&period=2026-Q1")
    # A team filter (from an old link) is ignored; an invalid group gives youths.
    assert "te weinig reacties" in comments_of(client, "team=Team+Klein&period=2025")
    views = audited(db, AuditEvent.object_id, AuditEvent.action == "view_comments")
    assert views == ["parent 2026-Q1", "parent 2026-02", "parent 2026"]
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
    fill_region(db)
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
