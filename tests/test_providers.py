"""Providers and municipalities as data: the command line, the import's checks, and families
who read only their own provider's name (in the email, on the survey and thank-you pages)."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from survey.db import get_session
from survey.models import Episode, Provider
from tests.mailroom import D0, HEADER, SURVEY_LINK, trajectory
from tests.pages import csrf_token, parts, soup, visible


def invoke(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def write_csv(tmp_path, name: str, rows) -> str:
    path = tmp_path / name
    columns = HEADER.split(",")
    lines = [HEADER] + [",".join(row[column] for column in columns) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def test_providers_and_municipalities_are_kept_from_the_command_line(app, db):
    added = invoke(app, "providers", "add", "zorg-co", "--name", "Zorg & Co")
    assert added.exit_code == 0 and "zorg-co (Zorg & Co) added" in added.output
    assert invoke(app, "providers", "add", "Zorg Co", "--name", "X").exit_code == 2  # no slug
    twice = invoke(app, "providers", "add", "zorg-co", "--name", "Again")
    assert twice.exit_code == 2 and "already" in twice.output
    assert invoke(app, "providers", "list").output == "zorg-co\tZorg & Co\n"

    assert invoke(app, "municipalities", "add", "Amersfoort", "--code", "GM0307").exit_code == 0
    assert invoke(app, "municipalities", "add", "Soest").exit_code == 0
    bad = invoke(app, "municipalities", "add", "Baarn", "--code", "0308")
    assert bad.exit_code == 2 and "CBS" in bad.output
    assert invoke(app, "municipalities", "add", "amersfoort").exit_code == 2  # one spelling
    listed = invoke(app, "municipalities", "list").output
    assert listed == "Amersfoort\tGM0307\nSoest\t\n"


def test_an_unknown_municipality_names_its_line_and_the_known_spelling(app, db, tmp_path):
    for name in ("Amersfoort", "Soest", "Leusden"):
        assert invoke(app, "municipalities", "add", name).exit_code == 0
    rows = [
        trajectory("E1", "Soest", parent="a@example.org"),
        trajectory("E2", "Amersfort", parent="b@example.org"),
    ]
    result = invoke(app, "import-episodes", write_csv(tmp_path, "e.csv", rows))
    assert result.exit_code == 1
    assert (
        "line 3, column municipality: 'Amersfort' is not on the municipality list; "
        "did you mean 'Amersfoort'?"
    ) in result.output
    db.rollback()
    assert db.scalar(select(func.count()).select_from(Episode)) == 0  # nothing saved


def test_two_providers_each_family_reads_only_its_own(mailroom):
    app, tmp_path = mailroom.app, mailroom.tmp_path
    assert invoke(app, "providers", "add", "metmaya", "--name", "MetMaya").exit_code == 0
    assert invoke(app, "providers", "add", "kompas", "--name", "Jeugdzorg Kompas").exit_code == 0
    # The same episode number at both providers, and both in Soest.
    first = write_csv(tmp_path, "a.csv", [trajectory("7", "Soest", parent="ouder-a@example.org")])
    kompas_row = trajectory("7", "Soest", parent="ouder-b@example.org", team="Kompas Soest")
    second = write_csv(tmp_path, "b.csv", [kompas_row])
    unsaid = invoke(app, "import-episodes", first)
    assert unsaid.exit_code == 2 and "--provider" in unsaid.output  # several: say which
    assert invoke(app, "import-episodes", first, "--provider", "metmaya").exit_code == 0
    # A team is one provider's: Kompas may not file its families under MetMaya's team.
    borrowed = write_csv(tmp_path, "c.csv", [{**kompas_row, "team": "Team Soest"}])
    refused = invoke(app, "import-episodes", borrowed, "--provider", "kompas")
    assert refused.exit_code == 1
    assert (
        "line 2, column team: 'Team Soest' is a team of MetMaya: a team belongs to one "
        "provider; give this provider's team its own name"
    ) in refused.output
    assert invoke(app, "import-episodes", second, "--provider", "kompas").exit_code == 0
    with app.app_context():
        owners = get_session().execute(
            select(Episode.external_id, Provider.slug).join(Episode.provider)
        )
        assert sorted(owners) == [("7", "kompas"), ("7", "metmaya")]
    mailroom.send(D0)

    for address, own, other in (
        ("ouder-a@example.org", "MetMaya", "Kompas"),
        ("ouder-b@example.org", "Jeugdzorg Kompas", "MetMaya"),
    ):
        (message,) = mailroom.messages_to(address)
        body = parts(message)
        assert own in message["Subject"] and other not in message["Subject"]
        assert own in body["plain"] and other not in body["plain"] + body["html"]
        path = "/s/" + SURVEY_LINK.search(body["plain"]).group(1)
        family = app.test_client()
        page = family.get(path).get_data(as_text=True)
        assert visible(soup(page).select_one(".brand")) == f"Ervaringswijzer {own}"
        assert other not in page
        answer = {"csrf_token": csrf_token(page), "self_direction": "8", "usefulness": "7"}
        thanks = family.post(path, data=answer, follow_redirects=True).get_data(as_text=True)
        assert visible(soup(thanks).select_one(".brand")) == f"Ervaringswijzer {own}"
        assert other not in thanks


def test_the_upload_page_asks_which_provider_once_there_are_two(app, db):
    from tests.admin_pages import YESTERDAY, _admin, post_page
    from tests.factories import EPISODE_CSV_HEADER
    from tests.pages import field_error, options

    for slug, name in (("metmaya", "MetMaya"), ("kompas", "Jeugdzorg Kompas")):
        assert invoke(app, "providers", "add", slug, "--name", name).exit_code == 0
    admin = _admin(app)
    assert options(admin.get("/staff/admin/import").text, "provider") == ["", "kompas", "metmaya"]
    row = f"K1,{YESTERDAY},Team Soest,Soest,Begeleiding,15,,ouder@example.org,nl"

    def upload(provider: str):
        file = (io.BytesIO(f"{EPISODE_CSV_HEADER}\n{row}\n".encode()), "episodes.csv")
        return post_page(admin, "/staff/admin/import", {"file": file, "provider": provider})

    unsaid = upload("")
    assert unsaid.status_code == 400
    message = "Fout: Kies de zorgaanbieder van wie dit bestand komt."
    assert field_error(unsaid.text, "provider") == message  # next to the field
    assert upload("kompas").status_code == 200
    db.rollback()
    owners = select(Provider.slug).join(Episode.provider).where(Episode.external_id == "K1")
    assert db.scalars(owners).all() == ["kompas"]


def test_quotes_and_the_infoblad_name_the_provider_of_each_family(app, db, runner):
    """A regional infoblad counts the families of two providers: its source line names both, and
    each quote its own provider; a box of one provider's quotes reads as in the seed."""
    from datetime import date

    from survey.quotes import operations as quotes
    from tests.factories import make_comment
    from tests.quote_helpers import docx_text, prepare
    from tests.staff_helpers import make_staff

    kompas = Provider(slug="kompas", name="Jeugdzorg Kompas")
    db.add(kompas)
    db.flush()
    ended = date(2026, 3, 10)
    texts = {}
    for n in range(12):  # 12 parents of each provider in 2026: both groups are published
        for provider, word in ((None, "MetMaya"), (kompas, "Kompas")):
            where = {"provider": provider, "team": "Kompas Amersfoort"} if provider else {}
            text = f"Goede hulp gehad, nummer {n} bij {word}."
            texts[text] = make_comment(db, text, end_date=ended, **where)
    db.commit()
    prepare(app, db)
    actor = make_staff(db, "communications")[0]
    chosen = ("Goede hulp gehad, nummer 1 bij MetMaya.", "Goede hulp gehad, nummer 2 bij Kompas.")
    for text in chosen:
        quotes.decide(db, texts[text], "approve", actor)
    db.commit()

    both = runner.invoke(args=["infoblad", "--period", "2026", "--format", "md"])
    assert both.exit_code == 0, both.output
    assert "(Bron: Ervaringswijzer Jeugdzorg Kompas en MetMaya)" in both.output
    assert "(ouder, MetMaya)" in both.output and "(ouder, Jeugdzorg Kompas)" in both.output
    word = runner.invoke(
        args=[
            "infoblad",
            "--period",
            "2026",
            "--format",
            "docx",
            "--output",
            str(app.instance_path) + "/infoblad.docx",
        ]
    )
    assert word.exit_code == 0, word.output
    with open(str(app.instance_path) + "/infoblad.docx", "rb") as file:
        assert "(Bron: Ervaringswijzer Jeugdzorg Kompas en MetMaya)" in docx_text(file.read())
    exported = runner.invoke(args=["quotes", "export", "--format", "csv"])
    assert (
        "ouder,Goede hulp gehad, nummer 2 bij Kompas.,Jeugdzorg Kompas,"
        in exported.output.replace('"', "")
    )

    kompas_only = runner.invoke(
        args=["infoblad", "--period", "2026", "--provider", "kompas", "--format", "md"]
    )
    assert kompas_only.exit_code == 0, kompas_only.output
    assert "ouders/verzorgers van Jeugdzorg Kompas aan het einde" in kompas_only.output
    assert "nummer 2 bij Kompas" in kompas_only.output and "MetMaya" not in kompas_only.output
    assert kompas_only.output.rstrip().endswith("(Bron: Ervaringswijzer Jeugdzorg Kompas)")
    unknown = runner.invoke(args=["infoblad", "--provider", "kompass"])
    assert unknown.exit_code == 2 and "'kompass' is not a provider" in unknown.output

    quotes.decide(db, texts[chosen[1]], "reject", actor)
    db.commit()
    one = runner.invoke(args=["quotes", "export", "--format", "md"])
    assert "“Goede hulp gehad, nummer 1 bij MetMaya.” (ouder)" in one.output
    assert one.output.rstrip().endswith("(Bron: Ervaringswijzer MetMaya)")


def two_providers_in_soest(db) -> Provider:
    """Parents whose care ended in February 2026, all in Soest. MetMaya's Team Soest: 20 sent,
    12 answered (marks 8); Kompas's Kompas Soest: 16 sent, 9 answered (marks 6), and its
    Kompas Jeugd: 3 sent, 2 answered (marks 9) — a group under k = 5 in every view."""
    from datetime import date

    from survey.answers.operations import submit_response
    from survey.answers.questionnaires import load_questionnaires
    from survey.models import utcnow
    from tests.factories import default_provider, make_episode, make_invited

    kompas = Provider(slug="kompas", name="Jeugdzorg Kompas")
    db.add(kompas)
    db.flush()
    questionnaire = load_questionnaires()["parent"]
    for provider, team, sent, answered, mark in (
        (default_provider(db), "Team Soest", 20, 12, 8),
        (kompas, "Kompas Soest", 16, 9, 6),
        (kompas, "Kompas Jeugd", 3, 2, 9),
    ):
        for n in range(sent):
            episode = make_episode(
                db, end_date=date(2026, 2, 10), team=team, municipality="Soest", provider=provider
            )
            invitation, _ = make_invited(db, episode=episode, respondent_group="parent")
            if n < answered:
                answers = {"self_direction": mark, "usefulness": mark}
                assert submit_response(db, invitation, questionnaire, answers, "nl", utcnow())
    db.commit()
    return kompas


def test_each_provider_has_its_own_figures_and_the_region_hides_what_would_single_out(
    app, db, runner
):
    import json

    from tests.dashboard_data import page_html, table_after
    from tests.pages import text_of
    from tests.staff_helpers import signed_in_client

    two_providers_in_soest(db)
    by_provider = runner.invoke(
        args=["report", "--period", "2026", "--by", "provider,group", "--format", "json"]
    )
    assert by_provider.exit_code == 0, by_provider.output
    rows = {(r["provider"], r["group"]): r for r in json.loads(by_provider.output)["rows"]}
    counts = {key: (row["invited"], row["responded"]) for key, row in rows.items()}
    assert counts["metmaya", "parent"] == (20, 12) and counts["kompas", "parent"] == (19, 11)
    assert rows["kompas", "parent"]["self_direction_mean"] == (9 * 6 + 2 * 9) / 11

    only = runner.invoke(
        args=["report", "--period", "2026", "--by", "team", "--provider", "kompas", "--format",
              "json"]
    )  # fmt: skip
    assert only.exit_code == 0, only.output
    teams = {r["team"]: r for r in json.loads(only.output)["rows"]}
    assert set(teams) == {"Kompas Soest", "Kompas Jeugd"}  # nothing of MetMaya
    assert teams["Kompas Jeugd"]["suppressed"] and teams["Kompas Jeugd"]["responded"] is None
    # Kompas's total minus Kompas Soest would be Kompas Jeugd's two families: one of them is
    # hidden too, in this view and in the region's view of teams.
    assert teams["Kompas Soest"]["suppressed"]
    region = runner.invoke(args=["report", "--period", "2026", "--by", "team", "--format", "json"])
    shown = {r["team"] for r in json.loads(region.output)["rows"] if not r["suppressed"]}
    assert shown == {"Team Soest"}
    unknown = runner.invoke(args=["report", "--period", "2026", "--provider", "kompass"])
    assert unknown.exit_code == 2 and "'kompass' is not a provider" in unknown.output

    people = runner.invoke(args=["report", "--period", "2026", "--by", "provider"])
    assert "Jeugdzorg Kompas" in people.output and "kompas" not in people.output  # by name

    client, _ = signed_in_client(app, db, "quality")
    export = client.get("/staff/dashboard/export.csv?period=2026&by=provider&by2=&table=breakdown")
    lines = export.get_data(as_text=True).splitlines()
    assert lines[0].startswith("\ufeffZorgaanbieder;") and lines[1].startswith("Jeugdzorg Kompas;")
    page = page_html(client, "/staff/dashboard/?period=2026&by=provider&by2=")
    breakdown = table_after(page, "breakdown")
    names = [text_of(str(row.find(["th", "td"]))) for row in breakdown.find_all("tr")[1:]]
    assert names == ["Jeugdzorg Kompas", "MetMaya", "Totaal"]  # by name, with the region
