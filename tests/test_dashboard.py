"""The dashboard for quality staff and viewers: the report's figures, never small groups."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import select

from survey.models import AuditEvent, utcnow
from survey.questionnaires import load_questionnaires
from survey.responses import submit_response
from tests.factories import make_episode, make_invited
from tests.pages import text_of
from tests.staff_helpers import get, signed_in_client
from tests.test_report import fill_region


def test_quality_staff_see_the_infoblad_figures(app, db):
    fill_region(db)
    client, _ = signed_in_client(app, db, "quality")
    page = get(client, "/staff/dashboard/?by=team")
    assert page.status_code == 200
    text = text_of(page.get_data(as_text=True))
    assert "Jongeren 37 11 30% 8,09 8,00" in text
    assert "Ouders 68 19 28% 7,74 7,21" in text
    assert 'data-spec-url="/staff/dashboard/chart.json?by=team"' in page.get_data(as_text=True)


def small_team(db, name: str) -> None:
    episode = make_episode(db, team=name)
    invitation, _ = make_invited(db, episode=episode, respondent_group="parent")
    answers = {"self_direction": 1, "usefulness": 1}
    assert submit_response(db, invitation, load_questionnaires()["parent"], answers, "nl", utcnow())


def test_small_groups_are_hidden_in_table_chart_and_export(app, db):
    fill_region(db)
    small_team(db, '=HYPERLINK("http://x")')
    client, _ = signed_in_client(app, db, "viewer")
    page = text_of(get(client, "/staff/dashboard/?by=team").get_data(as_text=True))
    assert "te weinig reacties" in page
    spec = json.loads(get(client, "/staff/dashboard/chart.json?by=team").get_data(as_text=True))
    drawn = [row["Cohort"] for rows in spec["datasets"].values() for row in rows]
    assert drawn and not any("HYPERLINK" in cohort for cohort in drawn)
    export = get(client, "/staff/dashboard/export.csv?by=team")
    assert export.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    hidden = [r for r in rows if "HYPERLINK" in r["team"]]
    assert hidden and all(r["team"].startswith("'=") for r in hidden)  # formula-safe
    assert all(r["suppressed"] == "True" and r["responded"] == "" for r in hidden)
    db.rollback()
    assert db.scalars(select(AuditEvent.action).where(AuditEvent.action == "export")).all()


def test_invalid_query_values_fall_back_to_defaults(app, db):
    client, _ = signed_in_client(app, db, "quality")
    page = get(client, "/staff/dashboard/?by=%3Cscript%3E&from=gisteren&to=2026-13-45")
    assert page.status_code == 200
    assert "<script>" not in page.get_data(as_text=True).split("<main")[1].split("<script src")[0]


def test_excel_export_has_the_figures_and_never_a_formula(app, db):
    from openpyxl import load_workbook

    fill_region(db)
    small_team(db, '=HYPERLINK("http://x")')
    client, _ = signed_in_client(app, db, "quality")
    export = get(client, "/staff/dashboard/export.xlsx?by=team")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.get_data())).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Groep", "Team", "Uitgezet", "Respons")
    cells = [cell for row in sheet.iter_rows() for cell in row]
    assert all(cell.data_type != "f" for cell in cells)  # no formula anywhere
    hidden = [row for row in rows if row and row[1] and "HYPERLINK" in str(row[1])]
    assert hidden and all(row[3] is None and row[-1] == "te weinig reacties" for row in hidden)
    cohorts = [row for row in rows[1:] if row and row[0] in ("Jongeren", "Ouders")]
    assert sum(row[2] for row in cohorts if row[0] == "Jongeren") == 37
    assert sum(row[2] for row in cohorts if row[0] == "Ouders") == 69  # 68 + the small team
