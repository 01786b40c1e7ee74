"""De-identified comments on the dashboard: per group and period, only when published."""

from __future__ import annotations

from datetime import date

from survey.models import AuditEvent
from tests.factories import make_comment
from tests.pages import text_of
from tests.quote_helpers import audited, prepare
from tests.staff_helpers import get, signed_in_client


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
