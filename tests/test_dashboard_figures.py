"""The dashboard page for quality staff: the infoblad figures, funnel, marks, distribution, trend,
representativeness and two-way breakdowns, read in the tables that show them.
"""

from __future__ import annotations

import re
from datetime import timedelta

import numpy as np
from scipy import stats

from survey.answers.operations import submit_response
from survey.answers.questionnaires import load_questionnaires
from survey.models import utcnow
from tests.dashboard_data import (
    page_html,
    page_text,
    region_over_two_quarters,
    table_after,
)
from tests.factories import make_episode, make_invited
from tests.pages import attribute_values, csrf_token, row_starting, soup
from tests.staff_helpers import get, signed_in_client
from tests.test_report import PARENTS, YOUTH, fill_region


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


def test_trend_per_quarter_with_interval_and_a_chart_band(app, db):
    region_over_two_quarters(db)
    client, _ = signed_in_client(app, db, "viewer")
    url = "/staff/dashboard/?grain=quarter&measure=usefulness"
    trend = table_after(page_html(client, url), "trend")
    # Quarter, group, sent, response rate (95% interval), each item's mean (95% interval).
    first = row_starting(trend, "2026-Q1", "Ouders")
    assert first[2] == "20" and re.fullmatch(r"40% \(\d+% – \d+%\)", first[3])
    assert first[4] == "6,00 (6,00 – 6,00)"
    second = row_starting(trend, "2026-Q2", "Ouders")
    assert second[2] == "10" and re.fullmatch(r"60% \(\d+% – \d+%\)", second[3])
    assert second[4].startswith("9,00 (")
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
    table = table_after(page_html(client, "/staff/dashboard/?by=team&by2="), "representativeness")
    # Team, sent, share of invitations, share of responses, rate (95% interval), verdict.
    for team, figures, rate, verdict in (
        ("Team Laag", ["60", "33%", "11%"], "10%", "Ondervertegenwoordigd"),
        ("Team Hoog", ["60", "33%", "56%"], "50%", "Oververtegenwoordigd"),
        ("Team Midden", ["60", "33%", "33%"], "30%", "Zoals verwacht"),
    ):
        row = row_starting(table, team)
        assert row[1:4] == figures and row[5] == verdict, row
        assert re.fullmatch(rf"{rate} \(\d+% – \d+%\)", row[4]), row


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


def test_the_dashboard_loads_nothing_from_another_origin(app, db):
    fill_region(db)
    client, _ = signed_in_client(app, db, "viewer")
    page = get(client, "/staff/dashboard/").get_data(as_text=True)
    sources = attribute_values(page, "src", "href", "data-spec-url", "action")
    assert sources and all(s.startswith(("/", "#")) for s in sources), sources
    for script in [tag["src"] for tag in soup(page).find_all("script", src=True)]:
        response = get(client, script)
        assert response.status_code == 200
        response.close()
    for spec_url in attribute_values(page, "data-spec-url"):  # read as a browser does: unescaped
        spec = get(client, spec_url).get_json()
        assert "url" not in spec.get("data", {}) and "datasets" in spec  # data inline, no fetch
