"""Quote exports and the infoblad: only approved quotes, markup kept as text, the chosen period."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select
from werkzeug.http import parse_options_header

from survey.models import AuditEvent, Comment
from tests.factories import make_comment
from tests.quote_helpers import PROVIDER, audited, decide, prepare
from tests.staff_helpers import get, signed_in_client
from tests.test_report import INFOBLAD, fill_region


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
    disposition, options = parse_options_header(answer.headers["Content-Disposition"])
    assert (disposition, options["filename"]) == ("attachment", "infoblad-ervaringswijzer.docx")
    document = Document(io.BytesIO(answer.get_data()))
    assert document.paragraphs[0].text == "Uitkomsten Ervaringswijzer"
    table = [[cell.text for cell in row.cells] for row in document.tables[0].rows]
    assert table[0] == ["", "Jongeren", "Ouders"]
    assert table[1][0] == "Aantal uitgezet/ respons"
    assert len(document.inline_shapes) == 1  # the chart
    image = document.inline_shapes[0]._inline.graphic.graphicData.pic.blipFill.blip.embed
    assert document.part.related_parts[image].blob[:8] == b"\x89PNG\r\n\x1a\n"
    quotes_text = [p.text for p in document.tables[1].cell(0, 0).paragraphs]  # the quotes box
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
