"""Accounts scoped to a municipality (issue 19): a municipality's policy officer sees the
aggregates of the families of that municipality only, with the region beside them, and never
comments, quotes, the audit log or another municipality's figures.

The route × role × scope matrix itself is in tests/test_staff_roles.py; here: what the pages and
downloads of a scoped account hold, that they publish nothing the region's own tables do not
(the same nodes of the one protected publication), and the account's creation on the command
line and on the admin page.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest

from survey.answers.operations import submit_response
from survey.answers.questionnaires import load_questionnaires
from survey.models import StaffUser, utcnow
from survey.region.operations import add_municipality
from survey.reporting.cohorts import cohort_rows
from survey.reporting.dimensions import Period
from tests.dashboard_data import mixed_region, page_html, table_after
from tests.factories import make_episode, make_invited
from tests.pages import csrf_token, text_of
from tests.staff_helpers import (
    fast_hashing,  # noqa: F401  (the fixture)
    get,
    make_staff,
    signed_in_client,
)

PERIOD = "2026"


def two_municipalities(db) -> None:
    """Parents whose care ended in February 2026. Soest: Noord 20 sent / 12 answered (marks 8),
    Zuid 20 / 10 (marks 6). Baarn: Noord 24 / 14 (marks 4). Every group above k = 10."""
    for name in ("Soest", "Baarn"):
        add_municipality(db, name)
    questionnaire = load_questionnaires()["parent"]
    for town, team, sent, answered, mark in (
        ("Soest", "Team Noord", 20, 12, 8),
        ("Soest", "Team Zuid", 20, 10, 6),
        ("Baarn", "Team Noord", 24, 14, 4),
    ):
        for n in range(sent):
            episode = make_episode(db, end_date=date(2026, 2, 10), team=team, municipality=town)
            invitation, _ = make_invited(db, episode=episode, respondent_group="parent")
            if n < answered:
                answers = {"self_direction": mark, "usefulness": mark}
                assert submit_response(db, invitation, questionnaire, answers, "nl", utcnow())


def cells_of(table) -> list[list[str]]:
    return [[text_of(str(c)) for c in row.find_all(["th", "td"])] for row in table.find_all("tr")]


def test_a_municipality_sees_its_own_families_with_the_region_beside_them(app, db):
    two_municipalities(db)
    client, _ = signed_in_client(app, db, "viewer", municipality="Soest")
    page = page_html(client, f"/staff/dashboard/?period={PERIOD}&by=team&by2=")

    assert "Baarn" not in page  # nothing of the other municipality
    assert "gemeente Soest" in text_of(page)
    results = cells_of(table_after(page, "results"))
    header, parents = results[0], results[1]
    assert header[-3:] == ["Regio: respons", "Regio: eigen regie", "Regio: nuttig"]
    # Soest's own figures: 40 sent, 22 answered, mean (12×8 + 10×6) / 22 = 7.09.
    assert parents[:6] == ["Ouders", "40", "22", "55%", "7,09", "7,09"]
    # The region beside it: 64 sent, 36 answered, (96 + 60 + 56) / 36 = 5.89.
    assert parents[6:] == ["56%", "5,89", "5,89"]
    breakdown = {row[0]: row for row in cells_of(table_after(page, "breakdown"))[1:]}
    assert set(breakdown) == {"Team Noord", "Team Zuid", "Totaal"}
    # Team Noord in Soest (12 of 20) beside team Noord in the whole region (26 of 44).
    assert breakdown["Team Noord"][1:4] == ["20", "12", "60%"]
    assert breakdown["Team Noord"][6] == "59%"


def test_a_municipality_cannot_break_down_by_municipality_or_reach_other_data(app, db):
    two_municipalities(db)
    client, _ = signed_in_client(app, db, "quality", municipality="Soest")
    page = page_html(client, f"/staff/dashboard/?period={PERIOD}&by=municipality&by2=group")
    assert "Baarn" not in page
    assert 'value="municipality"' not in page  # not offered in the form either
    for url in (
        f"/staff/dashboard/export.csv?period={PERIOD}&by=municipality&table=breakdown",
        f"/staff/dashboard/export.csv?period={PERIOD}&by=team&by2=care_type&variant=machine",
        f"/staff/dashboard/chart/breakdown.json?period={PERIOD}&by=municipality",
    ):
        answer = get(client, url)
        assert answer.status_code == 200
        assert "Baarn" not in answer.get_data(as_text=True)
    machine = get(
        client, f"/staff/dashboard/export.csv?period={PERIOD}&table=groups&variant=machine"
    )
    rows = list(csv.DictReader(io.StringIO(machine.get_data(as_text=True))))
    assert [(r["group"], int(r["invited"])) for r in rows] == [("parent", 40), ("Totaal", 40)]
    assert "soest" in machine.headers["Content-Disposition"]
    # A quality account of a municipality reads no free text: no comments, no quotes.
    for url in (
        f"/staff/dashboard/comments?period={PERIOD}",
        "/staff/quotes/",
        "/staff/admin/audit",
    ):
        assert get(client, url).status_code == 403
    home = get(client, "/staff/").get_data(as_text=True)
    assert "/staff/dashboard/comments" not in home and "/staff/quotes" not in home


def test_a_scoped_table_publishes_exactly_the_regions_nodes_of_that_municipality(app, db):
    """The privacy promise: everything a municipality sees is a figure the region's own
    team × municipality (or care type × municipality) table shows of it, suppressed alike, so
    combining the scopes gives away nothing the region's publication does not."""
    mixed_region(db)
    add_municipality(db, "Amersfoort")
    add_municipality(db, "Leusden")
    k = app.config["MIN_CELL_SIZE"]
    compared = hidden = 0
    for key in ("2025", "2025-H2", "2026-Q1", "2025-03"):
        from analysis.publication import PublicationPeriod

        period = Period.of(PublicationPeriod.parse(key))
        for other in ("team", "care_type", "group"):
            dims = ("municipality", other)
            region = cohort_rows(db, dims, period, k, margins=True)
            for town in ("Amersfoort", "Leusden"):
                scoped = cohort_rows(
                    db, (other,), period, k, margins=True, where={"municipality": town}
                )
                expected = {r[other]: r for r in region if r["municipality"] == town}
                assert {r[other] for r in scoped} <= set(expected)
                for row in scoped:
                    twin = expected[row[other]]
                    assert row["suppressed"] == twin["suppressed"], (key, town, row[other])
                    hidden += row["suppressed"]
                    for measure in (
                        "invited",
                        "responded",
                        "response_rate",
                        "self_direction_mean",
                        "usefulness_mean",
                    ):
                        assert row[measure] == twin[measure], (key, town, row[other], measure)
                    compared += 1
    assert compared > 50 and hidden > 0  # small groups were there, and stayed hidden


def test_report_filters_on_a_municipality_from_the_list(app, db, runner):
    two_municipalities(db)
    result = runner.invoke(
        args=[
            "report",
            "--period",
            PERIOD,
            "--by",
            "team",
            "--municipality",
            "soest",
            "--format",
            "json",
        ]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rows"]
    assert {r["team"]: (r["invited"], r["responded"]) for r in rows} == {
        "Team Noord": (20, 12),
        "Team Zuid": (20, 10),
    }
    unknown = runner.invoke(args=["report", "--period", PERIOD, "--municipality", "Sooest"])
    assert unknown.exit_code == 2 and "'Sooest' is not on the municipality list" in unknown.output
    finer = runner.invoke(
        args=["report", "--period", PERIOD, "--by", "team,care_type", "--municipality", "Soest"]
    )
    assert finer.exit_code == 2 and "at most one of team and care_type" in finer.output


def test_users_create_scopes_an_account_to_a_municipality(app, db, runner):
    add_municipality(db, "Soest")
    db.commit()
    made = runner.invoke(
        args=[
            "users",
            "create",
            "beleid@soest.example.nl",
            "--role",
            "viewer",
            "--municipality",
            "Soest",
            "--password-stdin",
        ],
        input="een lang en sterk wachtwoord\n",
    )
    assert made.exit_code == 0, made.output
    assert "limited to Soest" in made.output
    db.expire_all()
    user = db.query(StaffUser).filter_by(email="beleid@soest.example.nl").one()
    assert user.municipality.name == "Soest"
    for role, town, reason in (
        ("communications", "Soest", "only be a viewer or a quality account"),
        ("admin", "Soest", "only be a viewer or a quality account"),
        ("viewer", "Sooest", "'Sooest' is not on the municipality list"),
    ):
        refused = runner.invoke(
            args=[
                "users",
                "create",
                f"{role}@soest.example.nl",
                "--role",
                role,
                "--municipality",
                town,
                "--password-stdin",
            ],
            input="een lang en sterk wachtwoord\n",
        )
        assert refused.exit_code == 1 and reason in refused.output
    assert db.query(StaffUser).count() == 1


def test_the_database_refuses_a_scoped_admin_however_it_is_written(app, db):
    from sqlalchemy.exc import IntegrityError

    add_municipality(db, "Soest")
    db.commit()
    user, _, _ = make_staff(db, "viewer", municipality="Soest")
    user.role = "admin"
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()


def test_an_admin_makes_a_municipality_account_on_the_accounts_page(app, db):
    add_municipality(db, "Soest")
    db.commit()
    admin, _ = signed_in_client(app, db, "admin")
    page = get(admin, "/staff/admin/users").get_data(as_text=True)
    fields = {"email": "wethouder@soest.example.nl", "password": "een lang en sterk wachtwoord"}
    refused = admin.post(
        "/staff/admin/users",
        data={
            **fields,
            "role": "communications",
            "municipality": "Soest",
            "csrf_token": csrf_token(page),
        },
    )
    assert refused.status_code == 400
    assert "alleen kijker of kwaliteit" in text_of(refused.get_data(as_text=True))
    made = admin.post(
        "/staff/admin/users",
        data={**fields, "role": "viewer", "municipality": "Soest", "csrf_token": csrf_token(page)},
    )
    assert made.status_code == 302
    listing = text_of(get(admin, "/staff/admin/users").get_data(as_text=True))
    assert "wethouder@soest.example.nl" in listing and "Soest" in listing
    # Promoting the account to a role that reads free text is refused, and says why.
    user = db.query(StaffUser).filter_by(email="wethouder@soest.example.nl").one()
    page = get(admin, "/staff/admin/users").get_data(as_text=True)
    answer = admin.post(
        f"/staff/admin/users/{user.id}",
        data={"action": "set_role", "role": "communications", "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "alleen kijker of kwaliteit" in text_of(answer.get_data(as_text=True))
    db.expire_all()
    assert db.get(StaffUser, user.id).role == "viewer"


def with_quotes(app, db) -> dict[str, str]:
    """`two_municipalities`, and an approved quote from a family of Soest, of Baarn and of
    Eemnes (whose one family is far below k): text → municipality."""
    from survey.quotes import operations as quotes
    from tests.factories import make_comment
    from tests.quote_helpers import prepare

    two_municipalities(db)
    add_municipality(db, "Eemnes")
    said = {
        "De hulpverlener luisterde echt naar ons.": "Soest",
        "Het duurde lang voor er iemand kwam.": "Baarn",
        "Wij zijn heel blij met de hulp.": "Eemnes",
    }
    ids = [
        make_comment(db, text, end_date=date(2026, 2, 10), municipality=town)
        for text, town in said.items()
    ]
    db.commit()
    prepare(app, db)
    actor = make_staff(db, "communications")[0]
    for response_id in ids:
        quotes.decide(db, response_id, "approve", actor)
    db.commit()
    return said


def test_the_startfoto_of_a_municipality_holds_its_figures_the_region_and_its_quotes(
    app, db, runner, tmp_path
):
    with_quotes(app, db)
    soest = runner.invoke(args=["startfoto", "--municipality", "soest", "--period", PERIOD])
    assert soest.exit_code == 0, soest.output
    text = soest.output
    assert text.startswith("# Startfoto gemeente Soest: 2026")
    # Soest's parents (41 sent with the quoted family, 23 answered) beside the region's 67 / 39.
    assert "| Ouders | 41 | 23 | 56% |" in text
    assert "| 58% |" in text  # the region's response rate: 39 / 67
    assert "| Zorgsoort | Verstuurd | Respons (95%-interval) |" in text
    assert "De hulpverlener luisterde echt naar ons." in text
    assert "Het duurde lang" not in text and "heel blij" not in text  # other municipalities'
    assert "(Bron: Ervaringswijzer MetMaya)" in text
    # One family in Eemnes: no figure and no quote of it leaves the system.
    eemnes = runner.invoke(args=["startfoto", "--municipality", "Eemnes", "--period", PERIOD])
    assert eemnes.exit_code == 0, eemnes.output
    assert "heel blij" not in eemnes.output and "te weinig reacties" in eemnes.output
    assert "Nog geen goedgekeurde citaten" in eemnes.output
    unknown = runner.invoke(args=["startfoto", "--municipality", "Sooest"])
    assert unknown.exit_code == 2 and "not on the municipality list" in unknown.output
    word = tmp_path / "startfoto.docx"
    made = runner.invoke(
        args=[
            "startfoto",
            "--municipality",
            "Soest",
            "--period",
            PERIOD,
            "--format",
            "docx",
            "--output",
            str(word),
        ]
    )
    assert made.exit_code == 0, made.output
    from tests.quote_helpers import docx_text

    document = docx_text(word.read_bytes())
    assert "Startfoto gemeente Soest: 2026" in document
    assert "Regio: respons" in document and "De hulpverlener luisterde echt naar ons." in document


def test_the_startfoto_download_follows_the_account_scope(app, db):
    with_quotes(app, db)
    scoped, _ = signed_in_client(app, db, "viewer", municipality="Soest")
    own = get(scoped, f"/staff/dashboard/startfoto.md?period={PERIOD}&municipality=Baarn")
    assert own.status_code == 200
    body = own.get_data(as_text=True)
    assert "Startfoto gemeente Soest" in body and "Baarn" not in body  # the account's own
    assert "startfoto-soest-2026.md" in own.headers["Content-Disposition"]
    regional, _ = signed_in_client(app, db, "quality")
    chosen = get(regional, f"/staff/dashboard/startfoto.html?period={PERIOD}&municipality=Soest")
    assert chosen.status_code == 200
    assert "De hulpverlener luisterde echt naar ons." in chosen.get_data(as_text=True)
    # Baarn's parents are hidden too (else Eemnes' one family would follow from the region's
    # total): so is the quote of Baarn.
    baarn = get(regional, f"/staff/dashboard/startfoto.html?period={PERIOD}&municipality=Baarn")
    assert "Startfoto gemeente Baarn" in baarn.get_data(as_text=True)
    assert "Het duurde lang" not in baarn.get_data(as_text=True)
    assert "te weinig reacties" in baarn.get_data(as_text=True)
    whole = get(regional, f"/staff/dashboard/startfoto.md?period={PERIOD}").get_data(as_text=True)
    assert whole.startswith("# Startfoto de regio: 2026")
    assert get(regional, "/staff/dashboard/startfoto.md?municipality=Nergens").status_code == 404
    page = page_html(scoped, f"/staff/dashboard/?period={PERIOD}")
    assert "/staff/dashboard/startfoto.docx?period=2026" in page
