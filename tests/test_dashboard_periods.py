"""Dashboard periods: only publication periods are offered and honoured, and a period's figures
match the invitations themselves (from the kept cells or the base tables alike).
"""

from __future__ import annotations

import csv
import io

import pytest

from analysis.disclosure import shown_value
from tests import pages
from tests.dashboard_data import (
    mixed_region,
    region_over_two_quarters,
)
from tests.pages import text_of
from tests.staff_helpers import get, signed_in_client


def period_options(page: str) -> list[str]:
    """The values of the dashboard's period select, in order."""
    return pages.options(page, "period")


def selected_period(page: str) -> str:
    return pages.selected(page, "period")


def test_the_form_offers_only_publication_periods_and_shows_the_chosen_one(app, db):
    from analysis.publication import PublicationPeriod

    region_over_two_quarters(db)  # parents: February 2026 (20 sent, 8 answered), May (10, 6)
    client, _ = signed_in_client(app, db, "quality")
    page = get(client, "/staff/dashboard/").get_data(as_text=True)
    assert 'type="date"' not in page and 'name="from"' not in page and 'name="to"' not in page
    keys = ["2026", "2026-H1", "2026-Q2", "2026-Q1", "2026-05", "2026-04", "2026-03", "2026-02"]
    assert period_options(page) == keys  # every period with data, newest first, no free dates
    assert all(PublicationPeriod.parse(key).key == key for key in keys)
    assert '<optgroup label="2026">' in page and ">1e kwartaal 2026</option>" in page
    assert selected_period(page) == "2026"  # the default: the year of the newest data
    assert "Ouders 30 14 47%" in text_of(page)
    assert "per kalendermaand, kwartaal, halfjaar of jaar" in text_of(page)
    assert "hele maanden" not in text_of(page)

    quarter = get(client, "/staff/dashboard/?period=2026-Q1&by=month").get_data(as_text=True)
    assert selected_period(quarter) == "2026-Q1"
    text = text_of(quarter)
    assert "Ouders 20 8 40%" in text and "Ouders 30" not in text
    assert "2026-02" in text and "2026-05" not in text  # the breakdown stays inside the quarter
    # Charts, downloads and the comments link ask for the same period.
    links = pages.attribute_values(quarter, "href", "data-spec-url")
    carried = [u for u in links if "/chart/" in u or "/export." in u or "/comments" in u]
    assert carried and all("period=2026-Q1" in u and "from=" not in u for u in carried)
    spec = get(client, "/staff/dashboard/chart/trend.json?period=2026-Q1&grain=month").get_json()
    points = {row["period"] for rows in spec["datasets"].values() for row in rows}
    assert points == {"2026-02"}
    machine_csv = "/staff/dashboard/export.csv?table=groups&variant=machine"
    export = get(client, f"{machine_csv}&period=2026-Q2").text
    shown = {row["group"]: row for row in csv.DictReader(io.StringIO(export))}
    assert (shown["parent"]["invited"], shown["parent"]["responded"]) == ("10", "6")

    from survey.staff.periods import period_options as options

    english = options([PublicationPeriod(2026, "year")], PublicationPeriod(2026, "half"), "en")
    assert english == [(2026, [("2026", "2026"), ("2026-H1", "first half of 2026")])]


def test_a_free_range_is_not_honoured_but_an_old_link_to_one_period_is(app, db):
    region_over_two_quarters(db)
    client, _ = signed_in_client(app, db, "quality")
    free = get(client, "/staff/dashboard/?from=2026-01-01&to=2026-02-15").get_data(as_text=True)
    assert selected_period(free) == "2026"  # the default period, not January to mid-February
    assert "Ouders 30 14 47%" in text_of(free) and "Ouders 20 8" not in text_of(free)
    machine_csv = "/staff/dashboard/export.csv?table=groups&variant=machine"
    export = get(client, f"{machine_csv}&from=2026-01-01&to=2026-02-15")
    shown = {row["group"]: row for row in csv.DictReader(io.StringIO(export.text))}
    assert shown["parent"]["invited"] == "30"
    old = get(client, "/staff/dashboard/?from=2026-01-01&to=2026-03-31").get_data(as_text=True)
    assert selected_period(old) == "2026-Q1"  # exactly one quarter: an old bookmark still works
    assert "Ouders 20 8 40%" in text_of(old)
    # A period without data is not offered, and asking for it gives the default.
    empty = get(client, "/staff/dashboard/?period=2024-Q1").get_data(as_text=True)
    assert selected_period(empty) == "2026" and "2024" not in period_options(empty)


@pytest.mark.parametrize(
    "cubes",
    [
        [("group",), ("group", "quarter"), ("group", "quarter")],
        [("group",), ("group", "month"), ("team", "year")],
        [("group",), ("group", "quarter"), ("municipality", "care_type")],
        [("group",), ("group", "month"), ("group", "team")],
        [(), ("team",), ("year",)],
    ],
)
def test_one_fetch_of_the_cells_gives_every_cube_as_its_own_queries(db, cubes):
    from analysis.publication import PublicationPeriod
    from survey.reporting.cohorts import Cells, cohort_rows
    from survey.reporting.dimensions import Period

    mixed_region(db)
    for publication in (PublicationPeriod(2025, "year"), PublicationPeriod(2026, "year")):
        period = Period.of(publication)
        cells = Cells.fetch(db, cubes, period)
        assert cells.from_cells  # publication periods are whole months: the kept cells answer
        for dims in cubes:  # alone: from the invitations and answers themselves
            alone = cohort_rows(db, dims, period, 5, margins=True)
            assert cohort_rows(db, dims, period, 5, margins=True, cells=cells) == alone
            assert any(not row["suppressed"] for row in alone)


def test_a_period_matches_the_invitations_themselves(app, db):
    from analysis.publication import PublicationPeriod
    from survey.reporting.cohorts import cohort_rows
    from survey.reporting.dimensions import Period

    mixed_region(db)
    client, _ = signed_in_client(app, db, "quality")
    export = get(client, "/staff/dashboard/export.csv?table=groups&period=2025-H2&variant=machine")
    shown = {
        row["group"]: row for row in csv.DictReader(io.StringIO(export.get_data(as_text=True)))
    }
    half = Period.of(PublicationPeriod(2025, "half", 2))
    rows = cohort_rows(db, ("group",), half, 5, margins=True)  # from the base tables
    assert not rows[-1]["suppressed"]  # the total of the half year is published
    for row in rows:
        for figure in ("invited", "responded", "opened", "self_direction_n", "usefulness_mean"):
            expected = "" if row[figure] is None else str(row[figure])
            assert shown[shown_value(row["group"])][figure] == expected, figure
    year = cohort_rows(db, ("group",), Period.of(PublicationPeriod(2025, "year")), 5, margins=True)
    assert int(shown["Totaal"]["invited"]) < year[-1]["invited"]  # the half year, not the year
