"""`ervaringswijzer report`: the infoblad table from real invitations and responses."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

from survey.answers.operations import submit_response
from survey.answers.questionnaires import load_questionnaires
from survey.models import utcnow
from tests.factories import make_episode, make_invited

INFOBLAD = """\
|  | Jongeren | Ouders |
|---|---|---|
| Aantal uitgezet/ respons | 37 uitgezet / 11 respons (30%) | 68 uitgezet / 19 respons (28%) |
| Ervaren eigen regie (rapportcijfer 1-10) | 8,09 | 7,74 |
| Hoe nuttig was de hulp? (rapportcijfer 1-10) | 8,00 | 7,21 |
"""
# Marks whose means are the infoblad's: 89/11 = 8,09; 88/11 = 8,00; 147/19 = 7,74; 137/19 = 7,21.
YOUTH = list(zip([8] * 10 + [9], [8] * 11, strict=True))
PARENTS = list(zip([8] * 14 + [7] * 5, [7] * 15 + [8] * 4, strict=True))


def fill_region(db) -> None:
    """37 youth and 68 parent invitations sent; 11 and 19 of them answered through the service."""
    questionnaires = load_questionnaires()
    for group, invited, marks in (("youth", 37, YOUTH), ("parent", 68, PARENTS)):
        for n in range(invited):
            episode = make_episode(db, youth_age=17, team=f"Team {n % 3}")
            invitation, _ = make_invited(db, episode=episode, respondent_group=group)
            if n < len(marks):
                answers = {"self_direction": marks[n][0], "usefulness": marks[n][1]}
                assert submit_response(
                    db, invitation, questionnaires[group], answers, "nl", utcnow()
                )


def test_report_by_group_prints_the_infoblad_table(runner, db):
    fill_region(db)
    result = runner.invoke(args=["report", "--by", "group", "--format", "md"])
    assert result.exit_code == 0, result.output
    assert result.output == INFOBLAD


def test_json_and_csv_carry_the_same_figures(runner, db):
    fill_region(db)
    data = json.loads(runner.invoke(args=["report", "--by", "group", "--format", "json"]).output)
    assert data["min_cell_size"] == 5
    rows = {row["group"]: row for row in data["rows"]}
    assert set(rows) == {"youth", "parent"}
    assert (rows["youth"]["invited"], rows["youth"]["responded"]) == (37, 11)
    assert (rows["parent"]["invited"], rows["parent"]["responded"]) == (68, 19)
    assert abs(rows["youth"]["response_rate"] - 11 / 37) < 1e-12
    assert abs(rows["youth"]["self_direction_mean"] - 89 / 11) < 1e-12
    assert abs(rows["parent"]["usefulness_mean"] - 137 / 19) < 1e-12
    assert rows["parent"]["suppressed"] is False
    output = runner.invoke(args=["report", "--by", "group", "--format", "csv"]).output
    table = {r["group"]: r for r in csv.DictReader(io.StringIO(output))}
    assert table["parent"]["invited"] == "68" and table["parent"]["responded"] == "19"
    assert abs(float(table["youth"]["usefulness_mean"]) - 8.0) < 1e-12


def test_small_teams_are_suppressed_with_the_reason(runner, db):
    fill_region(db)
    episode = make_episode(db, team="Team Klein")
    invitation, _ = make_invited(db, episode=episode, respondent_group="parent")
    assert submit_response(
        db,
        invitation,
        load_questionnaires()["parent"],
        {"self_direction": 2, "usefulness": 3},
        "nl",
        utcnow(),
    )
    data = json.loads(runner.invoke(args=["report", "--by", "team", "--format", "json"]).output)
    small = next(row for row in data["rows"] if row["team"] == "Team Klein")
    assert small["suppressed"] is True
    assert small["responded"] is None and small["self_direction_mean"] is None
    shown = [row for row in data["rows"] if not row["suppressed"]]
    assert all(row["n"] >= 5 for row in shown)
    text = runner.invoke(args=["report", "--by", "team", "--format", "md"]).output
    assert "te weinig reacties" in text


def test_unknown_dimension_is_a_clear_usage_error(runner, db):
    result = runner.invoke(args=["report", "--by", "colour"])
    assert result.exit_code == 2
    assert "unknown dimension 'colour'" in result.output
    assert "Traceback" not in result.output


def test_periods_are_labelled_alike_on_every_database(runner, db):
    from datetime import date

    fill_region(db)
    ended = date.today() - timedelta(days=1)
    expected = {
        "month": f"{ended:%Y-%m}",
        "quarter": f"{ended.year}-Q{(ended.month + 2) // 3}",
        "year": f"{ended.year}",
    }
    for grain, label in expected.items():
        output = runner.invoke(args=["report", "--by", grain, "--format", "json"]).output
        rows = json.loads(output)["rows"]
        assert [(row[grain], row["invited"], row["responded"]) for row in rows] == [
            (label, 105, 30)
        ]
