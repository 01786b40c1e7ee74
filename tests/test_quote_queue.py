"""The quote review queue: consent, edits, the original for admins only, flags, filters, paging.

Pages are read with BeautifulSoup; decisions are posted as a browser would (tests/quote_helpers.py).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from survey.models import AuditEvent, Comment
from tests.factories import make_comment
from tests.pages import csrf_token, one, selected, soup, text_of, visible
from tests.quote_helpers import decide, docx_text, prepare
from tests.staff_helpers import get, request, signed_in_client
from tests.test_report import fill_region


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
    assert selected(page, "period") == "2026-Q1"
    assert visible(one(page, "select[name=period] option[selected]")) == "1e kwartaal 2026"
    links = [a["href"] for a in soup(page).select('a[href^="/staff/quotes/infoblad."][href*="?"]')]
    assert links and all(u.endswith("period=2026-Q1") for u in links)

    youth = text_of(get(client, "/staff/quotes/?period=2025&group=youth").text)
    assert "te weinig reacties" in youth and "Eén jongere" not in youth  # one response only
    assert "0 citaten" in youth
    free = get(client, "/staff/quotes/?from=2026-01-01&to=2026-02-15").text
    assert selected(free, "period") == "2026"  # a free range gives the default period


def test_the_queue_shows_a_page_at_a_time_and_a_decision_returns_to_it(app, db):
    for n in range(27):
        make_comment(db, f"Opmerking nummer {n:02d}: het hielp.")
    prepare(app, db)
    client, _ = signed_in_client(app, db, "communications")
    first = text_of(get(client, "/staff/quotes/").text)
    assert "27 citaten · pagina 1 van 2" in first and first.count("het hielp.") == 25 * 2
    second = get(client, "/staff/quotes/?page=2").text
    ids = [box["id"].removeprefix("text-") for box in soup(second).select('textarea[id^="text-"]')]
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
