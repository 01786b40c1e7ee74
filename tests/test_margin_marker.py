"""A team really called "Totaal" is a team: the margin marker cannot collide with data."""

from __future__ import annotations

import io
import json

from bs4 import BeautifulSoup
from sqlalchemy import func, select

from analysis.disclosure import TOTAL
from survey.answers.operations import submit_response
from survey.answers.questionnaires import load_questionnaires
from survey.models import Episode, utcnow
from survey.reporting.spreadsheets import TITLE_ROWS
from tests.factories import EPISODE_CSV_HEADER, make_episode, make_invited
from tests.staff_helpers import get, signed_in_client

TEAMS = {"Totaal": (12, 6), "Noord": (10, 5)}
"""Team → (youths invited, youths who answered): every team cell is at least k = 5."""


def fill(db) -> None:
    questionnaire = load_questionnaires()["youth"]
    for team, (invited, answered) in TEAMS.items():
        for n in range(invited):
            episode = make_episode(db, youth_age=16, team=team)
            invitation, _ = make_invited(db, episode=episode, respondent_group="youth")
            if n < answered:
                answers = {"self_direction": 8, "usefulness": 7}
                assert submit_response(db, invitation, questionnaire, answers, "nl", utcnow())


def test_the_marker_is_no_text_an_import_accepts(runner, db, tmp_path):
    path = tmp_path / "episodes.csv"
    row = f"E1,2026-11-02,{TOTAL},{TOTAL},{TOTAL},15,jongere@example.org,,nl"
    path.write_text(f"{EPISODE_CSV_HEADER}\n{row}\n", encoding="utf-8")
    result = runner.invoke(args=["import-episodes", str(path)])
    # The leading separator is stripped like any white space (Python's str.strip): the team is
    # "Totaal", an ordinary name, never the marker.
    assert result.exit_code == 0, result.output
    db.rollback()
    episode = db.scalars(select(Episode)).one()
    assert (episode.team, episode.municipality, episode.care_type) == ("Totaal",) * 3
    # Inside a value the separator is refused like every control character.
    row = "E2,2026-11-02,Team\x1dNoord,Soest,Begeleiding,15,jongere@example.org,,nl"
    path.write_text(f"{EPISODE_CSV_HEADER}\n{row}\n", encoding="utf-8")
    result = runner.invoke(args=["import-episodes", str(path)])
    assert result.exit_code == 1
    assert "line 2" in result.output and "control character" in result.output
    assert db.scalar(select(func.count(Episode.id))) == 1


def test_a_team_named_totaal_is_shown_beside_the_margin(app, db):
    fill(db)
    client, _ = signed_in_client(app, db, "quality")
    page = get(client, "/staff/dashboard/?by=team")
    assert page.status_code == 200
    soup = BeautifulSoup(page.get_data(as_text=True), "html.parser")
    table = next(t for t in soup.find_all("table") if t.find("th", string="Team"))
    rows = [
        [cell.get_text(" ", strip=True) for cell in tr.find_all(["th", "td"])][:4]
        for tr in table.find("tbody").find_all("tr")
    ]
    # Group × team: the youths of each team, then of both teams together.
    assert ["Jongeren", "Noord", "10", "5"] in rows
    assert ["Jongeren", "Totaal", "12", "6"] in rows  # the team
    assert ["Jongeren", "Totaal", "22", "11"] in rows  # the margin: both teams
    assert "\x1d" not in page.get_data(as_text=True)


def test_downloads_and_the_report_keep_the_team_apart_from_the_margin(app, db, runner):
    from openpyxl import load_workbook

    fill(db)
    client, _ = signed_in_client(app, db, "quality")
    export = get(client, "/staff/dashboard/export.xlsx?table=breakdown&by=team")
    assert export.status_code == 200
    sheet = load_workbook(io.BytesIO(export.get_data())).active
    header_row = TITLE_ROWS + 1
    header = [cell.value for cell in sheet[header_row]]
    rows = [
        dict(zip(header, row, strict=True))
        for row in sheet.iter_rows(header_row + 1, values_only=True)
    ]
    youths = [(r["Team"], r["Uitgezet"]) for r in rows if r.get("Groep") == "Jongeren"]
    assert sorted(youths) == [("Noord", 10), ("Totaal", 12), ("Totaal", 22)]

    export = get(client, "/staff/dashboard/export.csv?table=breakdown&by=team&variant=machine")
    assert "Totaal" in export.get_data(as_text=True)
    assert "\x1d" not in export.get_data(as_text=True)

    result = runner.invoke(args=["report", "--by", "team", "--format", "json"])
    assert result.exit_code == 0, result.output
    teams = {row["team"]: row["invited"] for row in json.loads(result.output)["rows"]}
    assert teams == {"Noord": 10, "Totaal": 12}
