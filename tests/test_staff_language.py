"""Staff pages in Dutch or English: the language link, and figures in the page's notation."""

from __future__ import annotations

from tests.dashboard_data import page_html, table_after
from tests.pages import one, row_starting, selected, soup, text_of, visible
from tests.staff_helpers import get, signed_in_client
from tests.test_report import fill_region


def test_the_dashboard_in_english_writes_figures_in_english_notation(app, db):
    fill_region(db)
    client, _ = signed_in_client(app, db, "quality")
    dutch = page_html(client, "/staff/dashboard/?by=team")
    assert soup(dutch).html["lang"] == "nl"
    assert row_starting(table_after(dutch, "results"), "Jongeren")[3:] == ["30%", "8,09", "8,00"]

    switch = one(dutch, ".language-switch a")
    assert switch["lang"] == "en" and text_of(str(switch)) == "Read this page in English"
    english = page_html(client, switch["href"])
    assert soup(english).html["lang"] == "en"
    assert row_starting(table_after(english, "results"), "Youths")[3:] == ["30%", "8.09", "8.00"]
    # the filters are in English too, and still show the view asked for
    assert selected(english, "by") == "team"
    assert visible(one(english, "select[name=by] option[value=municipality]")) == "Municipality"
    assert visible(one(dutch, "select[name=by] option[value=municipality]")) == "Gemeente"

    # the choice stays for the next pages, until the link back to Dutch
    later = page_html(client, "/staff/dashboard/comments?group=parent")
    assert soup(later).html["lang"] == "en" and "Parents" in text_of(later)
    back = one(later, ".language-switch a")
    assert back["lang"] == "nl" and "group=parent" in back["href"]
    assert soup(page_html(client, back["href"])).html["lang"] == "nl"


def test_an_unknown_language_keeps_the_page_dutch(app, db):
    client, _ = signed_in_client(app, db, "viewer")
    page = get(client, "/staff/dashboard/?lang=fr").get_data(as_text=True)
    assert soup(page).html["lang"] == "nl"
    assert "Read this page in English" in text_of(page)
