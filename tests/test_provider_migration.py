"""Upgrading an installation of one provider (revisions 0010-0012): every episode becomes the
provider named after PROVIDER_NAME, the municipality list starts from the names in use, and
every figure and quote stays as it was, with the cells kept by their triggers as before."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from survey.migrate import upgrade
from tests.test_cells import installed_triggers, kept, rebuilt
from tests.test_schema import select_sums

EPISODE = (
    "INSERT INTO episode (external_id, end_date, team, municipality, care_type, language,"
    " imported_at) VALUES (:external, '2026-01-20', 'T', :town, 'C', 'nl', '2026-02-01')"
    " RETURNING id"
)
INVITATION = (
    "INSERT INTO invitation (episode_id, respondent_group, language, created_at, invited_at,"
    " sent_at, responded_at) VALUES (:id, 'parent', 'nl', '2026-02-01', '2026-02-01',"
    " '2026-02-01', :responded)"
)
RESPONSE = (
    "INSERT INTO response (id, respondent_group, team, municipality, care_type, end_month,"
    " submitted_month, questionnaire_key, questionnaire_version, language) VALUES"
    " ('old', 'parent', 'T', 'Soest', 'C', '2026-01-01', '2026-02-01', 'parent', 1, 'nl')"
)


def cells(connection) -> list[list[tuple]]:
    """Every non-empty cell without its provider (the cells of 0011 have none)."""
    key = "pair, end_month, respondent_group, team, municipality, care_type"
    return [
        sorted(
            tuple(row)
            for row in connection.execute(
                text(f"SELECT {key}{item}, {measure} FROM {table} WHERE {measure} <> 0")
            )
        )
        for table, item, measure in (
            ("funnel_cell", "", "invited"),
            ("mark_cell", ", item_id", "n"),
        )
    ]


def test_an_installation_of_one_provider_keeps_every_figure_and_quote(empty_database):
    from survey.cells import trigger_names

    upgrade(empty_database, "0009")
    engine = create_engine(empty_database)
    with engine.begin() as connection:
        for number, town in ((1, "Amersfoort"), (2, "Soest"), (3, "Soest")):
            episode = connection.execute(text(EPISODE), {"external": str(number), "town": town})
            responded = "2026-02-03" if number == 2 else None
            connection.execute(text(INVITATION), {"id": episode.scalar(), "responded": responded})
        connection.execute(text(RESPONSE))
        connection.execute(
            text(
                "INSERT INTO response_answer (response_id, item_id, value_int)"
                " VALUES ('old', 'usefulness', 8)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO comment (response_id, deidentified_text, safety_flag, quote_status)"
                " VALUES ('old', 'Fijn geholpen.', false, 'approved')"
            )
        )
        before = select_sums(connection), cells(connection)

    upgrade(empty_database, provider_name="Zorg & Co Amersfoort")
    with engine.begin() as connection:
        providers = connection.execute(text("SELECT id, slug, name FROM provider")).all()
        assert [tuple(p)[1:] for p in providers] == [("zorg-co-amersfoort", "Zorg & Co Amersfoort")]
        for table in ("episode", "response"):  # every trajectory and every answer: its own
            owners = connection.execute(text(f"SELECT DISTINCT provider_id FROM {table}")).all()
            assert [tuple(o) for o in owners] == [(providers[0][0],)]
        towns = connection.execute(text("SELECT name FROM municipality ORDER BY name")).all()
        assert [t[0] for t in towns] == ["Amersfoort", "Soest"]
        assert (select_sums(connection), cells(connection)) == before  # every figure as it was
        owners = connection.execute(text("SELECT DISTINCT provider_id FROM funnel_cell")).all()
        assert [tuple(o) for o in owners] == [(providers[0][0],)]  # revision 0012: per provider
        assert kept(connection) == rebuilt(connection)
        quote = connection.execute(text("SELECT deidentified_text, quote_status FROM comment"))
        assert [tuple(q) for q in quote] == [("Fijn geholpen.", "approved")]
        assert installed_triggers(connection) == sorted(trigger_names())
        connection.execute(text("UPDATE invitation SET responded_at = '2026-02-04' WHERE id = 3"))
        assert select_sums(connection)["responded"] == before[0]["responded"] + 3  # still kept
        assert kept(connection) == rebuilt(connection)
        # From now on an episode number is unique per provider, not in the whole installation.
        connection.execute(
            text(
                "INSERT INTO provider (slug, name, created_at) VALUES"
                " ('kompas', 'Kompas', '2026-02-01')"
            )
        )
        kompas = connection.execute(text("SELECT id FROM provider WHERE slug = 'kompas'")).scalar()
        connection.execute(
            text(
                "INSERT INTO episode (external_id, provider_id, end_date, team, municipality,"
                " care_type, language, imported_at) VALUES ('1', :p, '2026-01-20', 'T', 'Soest',"
                " 'C', 'nl', '2026-02-01')"
            ),
            {"p": kompas},
        )
    engine.dispose()
