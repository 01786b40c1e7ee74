"""The schema: migrations equal the models, and the answer world cannot lead to a person."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from survey.db import Base
from survey.migrate import upgrade

# Tables of the answer world, and words that, in a column name, could point back to a person.
ANSWER_WORLD = {"response", "response_answer", "comment", "mark_cell"}
CONTACT_WORDS = (
    "invitation",
    "episode",
    "email",
    "mail",
    "token",
    "hash",
    "address",
    "name",
    "phone",
    "external",
    "ip",
    "agent",
    "at",
    "time",
    "timestamp",
    "seq",
)
CONTACT_TABLES = {"episode", "invitation", "outbox_message", "funnel_cell"}
# Reference data both worlds may point to: whose care it was, never who received it.
REFERENCE_TABLES = {"provider"}
REVIEWED_ANSWER_COLUMNS = {
    "response": {
        "id",
        "provider_id",  # the provider of the trajectory, as the team: a cohort attribute
        "respondent_group",
        "team",
        "municipality",
        "care_type",
        "end_month",
        "submitted_month",
        "questionnaire_key",
        "questionnaire_version",
        "language",
    },
    "response_answer": {"response_id", "item_id", "value_int", "value_text"},
    # Sums per cohort cell (survey/cells/): no row stands for a person.
    "mark_cell": {
        "pair",
        "end_month",
        "respondent_group",
        "provider_id",  # reference data, like the response's own provider
        "team",
        "municipality",
        "care_type",
        "item_id",
        "n",
        "total",
        "total_sq",
        *(f"count_{mark}" for mark in range(1, 11)),
    },
    # No staff reference and no time: who decided on a quote, and when, is in the audit log.
    "comment": {
        "response_id",
        "deidentified_text",
        "placeholders",
        "safety_flag",
        "quote_status",
        "quote_text",
    },
}


def test_migrations_produce_exactly_the_models_schema(empty_database):
    upgrade(empty_database)
    engine = create_engine(empty_database)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == []


def test_cli_db_upgrade_creates_every_table(tmp_path, monkeypatch):
    from survey import create_app

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    app = create_app({"TESTING": True, "DATABASE_URL": url})
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = create_engine(url)
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}
    engine.dispose()
    app.extensions["db_engine"].dispose()


def test_answer_world_has_no_column_that_leads_back_to_a_person():
    for table_name, allowed in REVIEWED_ANSWER_COLUMNS.items():
        table = Base.metadata.tables[table_name]
        columns = {column.name for column in table.columns}
        # A new column must be reviewed for linkability and added above on purpose.
        assert columns == allowed, f"{table_name}: unreviewed columns {columns - allowed}"
        for column in table.columns:
            words = column.name.lower().split("_")
            assert not set(words) & set(CONTACT_WORDS), f"{table_name}.{column.name}"
            for foreign_key in column.foreign_keys:
                assert foreign_key.column.table.name in ANSWER_WORLD | REFERENCE_TABLES, (
                    f"{table_name}.{column.name} points to {foreign_key.column.table.name}"
                )


def test_no_contact_table_points_into_the_answer_world():
    for table_name in CONTACT_TABLES:
        for foreign_key in Base.metadata.tables[table_name].foreign_keys:
            assert foreign_key.column.table.name not in ANSWER_WORLD


def test_token_is_stored_only_as_a_sha256_hash():
    invitation = Base.metadata.tables["invitation"]
    assert "token" not in invitation.c
    assert invitation.c.token_hash.type.length == 64


def test_comments_stored_before_the_quotes_revision_become_rows_with_their_consent(
    empty_database,
):
    upgrade(empty_database, "0003")
    engine = create_engine(empty_database)
    response = (
        "INSERT INTO response (id, respondent_group, team, municipality, care_type, end_month,"
        " submitted_month, questionnaire_key, questionnaire_version, language) VALUES"
        " (:id, 'parent', 'T', 'M', 'C', '2026-01-01', '2026-02-01', 'parent', 1, 'nl')"
    )
    answer = "INSERT INTO response_answer (response_id, item_id, value_int, value_text) VALUES"
    with engine.begin() as connection:
        for rid in ("with-consent", "without-consent", "no-comment"):
            connection.execute(text(response), {"id": rid})
        connection.execute(text(f"{answer} ('with-consent', 'comment', NULL, 'Fijn.')"))
        connection.execute(text(f"{answer} ('with-consent', 'quote_consent', 1, NULL)"))
        connection.execute(text(f"{answer} ('without-consent', 'comment', NULL, 'Prima.')"))
        connection.execute(text(f"{answer} ('no-comment', 'usefulness', 8, NULL)"))
    upgrade(empty_database)
    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT response_id, quote_status, deidentified_text FROM comment ORDER BY 1")
        ).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("with-consent", "new", None),
        ("without-consent", None, None),
    ]


def test_the_cells_revision_back_fills_the_sums_and_keeps_them_from_then_on(empty_database):
    from survey.cells import trigger_names
    from tests.test_cells import installed_triggers, kept, rebuilt

    upgrade(empty_database, "0004")
    engine = create_engine(empty_database)
    episode = (
        "INSERT INTO episode (id, external_id, end_date, team, municipality, care_type, language,"
        " imported_at) VALUES (:id, :id, '2026-01-20', 'T', 'M', 'C', 'nl', '2026-02-01')"
    )
    invitation = (
        "INSERT INTO invitation (episode_id, respondent_group, language, created_at, invited_at,"
        " sent_at, responded_at) VALUES (:id, 'parent', 'nl', '2026-02-01', :invited, :invited,"
        " :responded)"
    )
    response = (
        "INSERT INTO response (id, respondent_group, team, municipality, care_type, end_month,"
        " submitted_month, questionnaire_key, questionnaire_version, language) VALUES"
        " ('old', 'parent', 'T', 'M', 'C', '2026-01-01', '2026-02-01', 'parent', 1, 'nl')"
    )
    with engine.begin() as connection:
        for number in (1, 2, 3):
            connection.execute(text(episode), {"id": number})
        answered = {"invited": "2026-02-01", "responded": "2026-02-03"}
        connection.execute(text(invitation), {"id": 1, **answered})
        connection.execute(text(invitation), {"id": 2, "invited": "2026-02-01", "responded": None})
        connection.execute(text(invitation), {"id": 3, "invited": None, "responded": None})
        connection.execute(text(response))
        connection.execute(
            text(
                "INSERT INTO response_answer (response_id, item_id, value_int)"
                " VALUES ('old', 'usefulness', 8)"
            )
        )
    upgrade(empty_database)
    with engine.begin() as connection:
        assert installed_triggers(connection) == sorted(trigger_names())
        cells = kept(connection)
        assert cells == rebuilt(connection)
        per_pair = select_sums(connection)
        assert per_pair == {"invited": 6, "sent": 6, "responded": 3, "n": 3, "total": 24}
        connection.execute(text("UPDATE invitation SET invited_at = '2026-02-05' WHERE id = 3"))
        assert select_sums(connection)["invited"] == 9  # kept by the triggers from now on
        assert kept(connection) == rebuilt(connection)
    engine.dispose()


def select_sums(connection) -> dict[str, int]:
    """Totals over the three pairs of cell dimensions (each change counts once per pair)."""
    funnel = connection.execute(
        text("SELECT SUM(invited), SUM(sent), SUM(responded) FROM funnel_cell")
    ).one()
    marks = connection.execute(text("SELECT SUM(n), SUM(total) FROM mark_cell")).one()
    return dict(zip(("invited", "sent", "responded", "n", "total"), [*funnel, *marks], strict=True))


def test_the_migrated_triggers_are_the_ones_survey_cells_makes(empty_database):
    """Revisions carry their own trigger SQL (frozen history); `upgrade head` must end with the
    triggers of survey/cells/triggers.py. A change to them there needs a revision that makes them
    anew.
    """
    from survey.cells import create_triggers, drop_triggers, trigger_names

    upgrade(empty_database)
    engine = create_engine(empty_database)
    with engine.begin() as connection:
        migrated = trigger_definitions(connection)
        drop_triggers(connection)
        assert trigger_definitions(connection) == {}  # so the live code makes every one anew
        create_triggers(connection)
        live = trigger_definitions(connection)
    engine.dispose()
    assert sorted(migrated) == sorted(trigger_names())
    for name, definition in live.items():
        assert migrated[name] == definition, name


def trigger_definitions(connection) -> dict[str, tuple[str, ...]]:
    """Each trigger of the current schema by name: its definition as the database keeps it
    (SQLite: the CREATE TRIGGER statement; PostgreSQL: the trigger and its function's body).
    """
    if connection.dialect.name == "sqlite":
        query = "SELECT name, tbl_name, sql FROM sqlite_master WHERE type = 'trigger'"
    else:
        query = (
            "SELECT t.tgname, pg_get_triggerdef(t.oid), f.prosrc FROM pg_trigger AS t"
            " JOIN pg_class AS c ON c.oid = t.tgrelid JOIN pg_proc AS f ON f.oid = t.tgfoid"
            " WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace"
        )
    return {name: tuple(rest) for name, *rest in connection.exec_driver_sql(query)}
