"""The dashboard for quality staff: funnel, marks, distribution, trend, breakdowns, exports."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import date, timedelta

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import select

from analysis.disclosure import TOTAL
from survey.models import AuditEvent, utcnow
from survey.questionnaires import load_questionnaires
from survey.responses import submit_response
from tests.factories import make_episode, make_invited
from tests.pages import csrf_token, text_of
from tests.staff_helpers import get, signed_in_client
from tests.test_report import PARENTS, YOUTH, fill_region


def page_text(client, url: str) -> str:
    page = get(client, url)
    assert page.status_code == 200
    return text_of(page.get_data(as_text=True))


def test_quality_staff_see_the_infoblad_figures(app, db):
    fill_region(db)
    client, _ = signed_in_client(app, db, "quality")
    text = page_text(client, "/staff/dashboard/?by=team")
    assert "Jongeren 37 11 30% 8,09 8,00" in text
    assert "Ouders 68 19 28% 7,74 7,21" in text


def test_marks_show_n_mean_sd_interval_and_the_distribution(app, db):
    fill_region(db)
    client, _ = signed_in_client(app, db, "quality")
    text = page_text(client, "/staff/dashboard/")
    for label, marks in (("Jongeren", YOUTH), ("Ouders", PARENTS)):
        values = np.array([m[0] for m in marks], dtype=float)  # eigen regie
        sd = np.std(values, ddof=1)
        low, high = stats.t.interval(
            0.95, len(values) - 1, np.mean(values), sd / len(values) ** 0.5
        )
        expected = (
            f"{label} Ervaren eigen regie (1-10) {len(values)} "
            f"{np.mean(values):.2f} {sd:.2f} {low:.2f} – {high:.2f}".replace(".", ",")
        )
        assert expected in text
    # 1-10 counts of "eigen regie" for youths: ten 8s and one 9.
    assert "Jongeren 0 0 0 0 0 0 0 10 1 0" in text
    assert "Ouders 0 0 0 0 0 0 5 14 0 0" in text


def answer_through_the_site(app, token: str, marks: tuple[int, int] | None) -> None:
    """A family opens its link (and answers when `marks` is given), with the page's CSRF token."""
    family = app.test_client()
    page = family.get(f"/s/{token}")
    assert page.status_code == 200
    if marks:
        data = {"csrf_token": csrf_token(page.get_data(as_text=True))}
        data.update(self_direction=str(marks[0]), usefulness=str(marks[1]))
        assert family.post(f"/s/{token}", data=data).status_code == 302


def opt_out_through_the_site(app, token: str) -> None:
    family = app.test_client()
    page = family.get(f"/afmelden/{token}").get_data(as_text=True)
    assert (
        family.post(f"/afmelden/{token}", data={"csrf_token": csrf_token(page)}).status_code == 200
    )


def test_the_funnel_counts_every_invitation_sent(app, db):
    """12 sent: 10 opened, 8 answered (3 after the reminder), 1 bounced, 1 opted out."""
    tokens = []
    for n in range(12):
        invitation, token = make_invited(db, respondent_group="parent", email=f"f{n}@example.org")
        tokens.append((invitation, token))
    for n, (_, token) in enumerate(tokens[:10]):
        answer_through_the_site(app, token, (7, 8) if n < 8 else None)
    opt_out_through_the_site(app, tokens[10][1])
    db.expire_all()
    tokens[11][0].bounced_at = utcnow()  # the SMTP 5xx path is tested in test_smtp_failures
    for invitation, _ in tokens[:3]:
        invitation.reminded_at = invitation.responded_at - timedelta(hours=1)
    db.commit()

    client, _ = signed_in_client(app, db, "quality")
    text = page_text(client, "/staff/dashboard/")
    # Sent, opened (share), responses, rate (Wilson 95%), bounced, opted out, after reminder.
    low, high = stats.binomtest(8, 12).proportion_ci(method="wilson")
    rate = f"67% ({round(low * 100)}% – {round(high * 100)}%)"
    assert f"Ouders 12 10 (83%) 8 {rate} 1 1 3 (38%)" in text


def region_over_two_quarters(db) -> None:
    """Parents in Q1 and Q2 2026: 20 sent / 8 answered and 10 sent / 6 answered."""
    questionnaire = load_questionnaires()["parent"]
    for end, sent, answered, mark in ((date(2026, 2, 10), 20, 8, 6), (date(2026, 5, 10), 10, 6, 9)):
        for n in range(sent):
            episode = make_episode(db, end_date=end)
            invitation, _ = make_invited(db, episode=episode, respondent_group="parent")
            if n < answered:
                answers = {"self_direction": mark, "usefulness": mark}
                assert submit_response(db, invitation, questionnaire, answers, "nl", utcnow())


def test_trend_per_quarter_with_interval_and_a_chart_band(app, db):
    region_over_two_quarters(db)
    client, _ = signed_in_client(app, db, "viewer")
    text = page_text(client, "/staff/dashboard/?grain=quarter&measure=usefulness")
    assert re.search(r"2026-Q1 Ouders 20 40% \(\d+% – \d+%\) 6,00 \(6,00 – 6,00\)", text)
    assert re.search(r"2026-Q2 Ouders 10 60% \(\d+% – \d+%\) 9,00", text)
    spec = get(client, "/staff/dashboard/chart/trend.json?grain=quarter&measure=usefulness")
    spec = spec.get_json()
    points = {row["period"]: row["value"] for rows in spec["datasets"].values() for row in rows}
    assert points == {"2026-Q1": 6.0, "2026-Q2": 9.0}
    assert spec["layer"][0]["mark"]["type"] == "area"  # the interval band


def test_a_large_team_that_answers_less_is_flagged_under_represented(app, db):
    questionnaire = load_questionnaires()["parent"]
    for team, sent, answered in (
        ("Team Laag", 60, 6),
        ("Team Hoog", 60, 30),
        ("Team Midden", 60, 18),
    ):
        for n in range(sent):
            invitation, _ = make_invited(db, episode=make_episode(db, team=team))
            if n < answered:
                answers = {"self_direction": 8, "usefulness": 8}
                assert submit_response(db, invitation, questionnaire, answers, "nl", utcnow())
    client, _ = signed_in_client(app, db, "quality")
    text = page_text(client, "/staff/dashboard/?by=team&by2=")
    assert re.search(r"Team Laag 60 33% 11% 10% \(\d+% – \d+%\) Ondervertegenwoordigd", text)
    assert re.search(r"Team Hoog 60 33% 56% 50% \(\d+% – \d+%\) Oververtegenwoordigd", text)
    assert re.search(r"Team Midden 60 33% 33% 30% \(\d+% – \d+%\) Zoals verwacht", text)


def small_team(db, name: str) -> None:
    """A team with one response (marks 1 and 1): below any MIN_CELL_SIZE above 1."""
    episode = make_episode(db, team=name)
    invitation, _ = make_invited(db, episode=episode, respondent_group="parent")
    answers = {"self_direction": 1, "usefulness": 1}
    assert submit_response(db, invitation, load_questionnaires()["parent"], answers, "nl", utcnow())


CHARTS = ("breakdown", "trend", "distribution-self_direction", "distribution-usefulness")


@pytest.mark.parametrize("chart", CHARTS)
def test_charts_leave_out_small_groups_and_download_as_svg_and_png(app, db, chart):
    fill_region(db)
    small_team(db, "Team Klein")
    client, _ = signed_in_client(app, db, "viewer")
    # Teams alone: per team and group, the year's one suppression pattern hides every cell here.
    query = "by=team&by2=&grain=month&measure=self_direction"
    spec = get(client, f"/staff/dashboard/chart/{chart}.json?{query}").get_json()
    data = [row for rows in spec["datasets"].values() for row in rows]
    assert data, "the chart has data"
    assert not any("Klein" in json.dumps(row) for row in data)
    if chart.startswith("distribution"):  # per group, and both groups are large enough
        assert {row["group"] for row in data} == {"Jongeren", "Ouders"}

    svg = get(client, f"/staff/dashboard/chart/{chart}.svg?{query}")
    assert svg.headers["Content-Type"].startswith("image/svg+xml")
    assert svg.get_data(as_text=True).startswith("<svg") and "Klein" not in svg.get_data(
        as_text=True
    )
    png = get(client, f"/staff/dashboard/chart/{chart}.png?{query}")
    assert png.get_data()[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(png.get_data()[16:20], "big")
    assert width >= 640  # drawn at twice the export width, ready for print
    db.rollback()
    exports = db.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "export")).all()
    assert f"{chart} svg" in exports and f"{chart} png" in exports


def test_an_unknown_chart_is_not_found(app, db):
    client, _ = signed_in_client(app, db, "viewer")
    assert get(client, "/staff/dashboard/chart/secret.svg").status_code == 404
    assert get(client, "/staff/dashboard/chart/trend.pdf").status_code == 404


TABLES = ("groups", "trend", "breakdown", "representativeness")


@pytest.mark.parametrize("table", TABLES)
def test_every_table_exports_without_small_groups_or_formulas(app, db, table):
    from openpyxl import load_workbook

    fill_region(db)
    small_team(db, '=HYPERLINK("http://x","y")')
    client, _ = signed_in_client(app, db, "quality")
    query = f"table={table}&by=team&by2=group"
    export = get(client, f"/staff/dashboard/export.csv?{query}")
    assert export.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert rows
    for row in rows:
        if row["suppressed"] == "True":
            public = ("group", "team", "month", "invited_share")  # invitations are public
            figures = [v for k, v in row.items() if k not in public]
            shown = [v for v in figures if v not in ("", "True")]
            assert shown == [row["invited"]] * len(shown)  # only the invitation counts remain
        elif "team" in row:
            assert "HYPERLINK" not in row["team"]
    hidden = [r for r in rows if "HYPERLINK" in r.get("team", "")]
    if table in ("breakdown", "representativeness"):
        assert hidden and all(r["team"].startswith("'=") for r in hidden)  # formula-safe

    workbook = get(client, f"/staff/dashboard/export.xlsx?{query}")
    sheet = load_workbook(io.BytesIO(workbook.get_data())).active
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)
    header = [cell.value for cell in sheet[1]]
    assert header[-1] == "Opmerking"
    for values in sheet.iter_rows(min_row=2, values_only=True):
        if values and values[-1] == "te weinig reacties":
            assert "Respons" in header and values[header.index("Respons")] is None


def test_excel_export_of_the_groups_has_the_infoblad_figures(app, db):
    from openpyxl import load_workbook

    fill_region(db)
    client, _ = signed_in_client(app, db, "quality")
    export = get(client, "/staff/dashboard/export.xlsx?table=groups")
    sheet = load_workbook(io.BytesIO(export.get_data())).active
    header = [cell.value for cell in sheet[1]]
    rows = {
        row[0]: dict(zip(header, row, strict=True))
        for row in sheet.iter_rows(2, 4, values_only=True)
    }
    assert (rows["Jongeren"]["Uitgezet"], rows["Jongeren"]["Respons"]) == (37, 11)
    assert (rows["Ouders"]["Uitgezet"], rows["Ouders"]["Respons"]) == (68, 19)
    assert rows["Jongeren"]["Ervaren eigen regie"] == pytest.approx(89 / 11)
    assert rows["Ouders"]["Hoe nuttig was de hulp?"] == pytest.approx(137 / 19)
    assert rows["Totaal"]["Uitgezet"] == 105
    db.rollback()
    assert "groups xlsx" in db.scalars(select(AuditEvent.object_id)).all()


def test_two_dimensions_show_cells_and_totals(app, db):
    fill_region(db)
    client, _ = signed_in_client(app, db, "quality")
    text = page_text(client, "/staff/dashboard/?by=team&by2=group")
    # fill_region spreads each group over Team 0, 1 and 2; their totals are the infoblad's.
    assert "Jongeren Totaal 37 11 30% 8,09 8,00" in text
    assert "Totaal Totaal 105 30 29%" in text


def test_invalid_query_values_fall_back_to_defaults(app, db):
    client, _ = signed_in_client(app, db, "quality")
    url = "/staff/dashboard/?by=%3Cscript%3E&by2=x&grain=day&measure=y&from=gisteren&to=2026-13-45"
    for query in (url, "/staff/dashboard/?period=%3Cscript%3E", "/staff/dashboard/?period=2026-Q9"):
        page = get(client, query)
        assert page.status_code == 200
        assert (
            "<script>" not in page.get_data(as_text=True).split("<main")[1].split("<script src")[0]
        )
    assert get(client, "/staff/dashboard/export.csv?table=nothing").status_code == 200


def period_options(page: str) -> list[str]:
    """The values of the dashboard's period select, in order."""
    select = re.search(r'<select name="period" id="period">(.*?)</select>', page, re.S)
    assert select, "no period select"
    return re.findall(r'<option value="([^"]*)"', select.group(1))


def selected_period(page: str) -> str:
    select = re.search(r'<select name="period" id="period">(.*?)</select>', page, re.S)
    return re.search(r'<option value="([^"]*)" selected>', select.group(1)).group(1)


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
    links = [html.unescape(u) for u in re.findall(r'(?:href|data-spec-url)="([^"]+)"', quarter)]
    carried = [u for u in links if "/chart/" in u or "/export." in u or "/comments" in u]
    assert carried and all("period=2026-Q1" in u and "from=" not in u for u in carried)
    spec = get(client, "/staff/dashboard/chart/trend.json?period=2026-Q1&grain=month").get_json()
    points = {row["period"] for rows in spec["datasets"].values() for row in rows}
    assert points == {"2026-02"}
    export = get(client, "/staff/dashboard/export.csv?table=groups&period=2026-Q2").text
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
    export = get(client, "/staff/dashboard/export.csv?table=groups&from=2026-01-01&to=2026-02-15")
    shown = {row["group"]: row for row in csv.DictReader(io.StringIO(export.text))}
    assert shown["parent"]["invited"] == "30"
    old = get(client, "/staff/dashboard/?from=2026-01-01&to=2026-03-31").get_data(as_text=True)
    assert selected_period(old) == "2026-Q1"  # exactly one quarter: an old bookmark still works
    assert "Ouders 20 8 40%" in text_of(old)
    # A period without data is not offered, and asking for it gives the default.
    empty = get(client, "/staff/dashboard/?period=2024-Q1").get_data(as_text=True)
    assert selected_period(empty) == "2026" and "2024" not in period_options(empty)


def test_the_dashboard_loads_nothing_from_another_origin(app, db):
    fill_region(db)
    client, _ = signed_in_client(app, db, "viewer")
    page = get(client, "/staff/dashboard/").get_data(as_text=True)
    sources = re.findall(r'(?:src|href|data-spec-url|action)="([^"]*)"', page)
    assert sources and all(s.startswith(("/", "#")) for s in sources), sources
    for script in re.findall(r'<script src="([^"]+)"', page):
        response = get(client, script)
        assert response.status_code == 200
        response.close()
    for spec_url in re.findall(r'data-spec-url="([^"]+)"', page):
        spec = get(client, spec_url.replace("&amp;", "&")).get_json()
        assert "url" not in spec.get("data", {}) and "datasets" in spec  # data inline, no fetch


def mixed_region(db, seed: int = 3) -> None:
    """300 invitations over two years, three teams, two places, two care types, both groups."""
    import random

    rng = random.Random(seed)
    questionnaires = load_questionnaires()
    for _ in range(300):
        episode = make_episode(
            db,
            youth_age=16,
            end_date=date(2025, 1, 1) + timedelta(days=rng.randrange(720)),
            team=rng.choice(("Team Noord", "Team Zuid", "Team Oost")),
            municipality=rng.choice(("Amersfoort", "Leusden")),
            care_type=rng.choice(("Begeleiding", "Behandeling")),
        )
        group = rng.choice(("youth", "parent"))
        invitation, _ = make_invited(db, episode=episode, respondent_group=group)
        if rng.random() < 0.5:
            answers = {"self_direction": rng.randint(1, 10), "usefulness": rng.randint(1, 10)}
            assert submit_response(db, invitation, questionnaires[group], answers, "nl", utcnow())


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
    from survey.reports import Cells, Period, cohort_rows

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
    from survey.reports import Period, cohort_rows

    mixed_region(db)
    client, _ = signed_in_client(app, db, "quality")
    export = get(client, "/staff/dashboard/export.csv?table=groups&period=2025-H2")
    shown = {
        row["group"]: row for row in csv.DictReader(io.StringIO(export.get_data(as_text=True)))
    }
    half = Period.of(PublicationPeriod(2025, "half", 2))
    rows = cohort_rows(db, ("group",), half, 5, margins=True)  # from the base tables
    assert not rows[-1]["suppressed"]  # the total of the half year is published
    for row in rows:
        for figure in ("invited", "responded", "opened", "self_direction_n", "usefulness_mean"):
            expected = "" if row[figure] is None else str(row[figure])
            assert shown[row["group"]][figure] == expected, figure
    year = cohort_rows(db, ("group",), Period.of(PublicationPeriod(2025, "year")), 5, margins=True)
    assert int(shown[TOTAL]["invited"]) < year[-1]["invited"]  # the half year, not the year
