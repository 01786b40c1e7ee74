"""What storage keeps: the migration that cut answer times to the day and mixed what was stored,
and SQLite overwriting what it deletes (a copy of the file holds no erased row)."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import create_engine, select, text

from survey.cells import trigger_names
from survey.migrate import upgrade
from survey.models import Invitation
from tests.mixing import MAX_CHANCE_HITS, chance_hits, fingerprint
from tests.test_cells import installed_triggers, kept, rebuilt

# -- the migration ----------------------------------------------------------------------------


@pytest.fixture
def at_0006(empty_database):
    """A database of each backend at the revision before this one, and an engine on it."""
    upgrade(empty_database, "0006")
    engine = create_engine(empty_database)
    yield empty_database, engine
    engine.dispose()


def test_the_migration_cuts_times_to_the_day_and_mixes_what_was_stored(at_0006):
    url, engine = at_0006
    episode = (
        "INSERT INTO episode (id, external_id, end_date, team, municipality, care_type, language,"
        " imported_at) VALUES (:id, :external, '2026-01-20', 'T', 'M', 'C', 'nl', '2026-02-01')"
    )
    invitation = (
        "INSERT INTO invitation (episode_id, respondent_group, language, created_at, invited_at,"
        " sent_at, reminded_at, responded_at) VALUES (:id, 'parent', 'nl', '2026-02-01',"
        " '2026-02-01', '2026-02-01', '2026-02-08 16:00:00', :responded)"
    )
    response = (
        "INSERT INTO response (id, respondent_group, team, municipality, care_type, end_month,"
        " submitted_month, questionnaire_key, questionnaire_version, language) VALUES"
        " (:id, 'parent', 'T', 'M', 'C', '2026-01-01', :month, 'parent', 1, 'nl')"
    )
    answer = (
        "INSERT INTO response_answer (response_id, item_id, value_int) VALUES (:id, :item, :value)"
    )
    count = 60
    with engine.begin() as connection:
        for n in range(count):
            connection.execute(text(episode), {"id": n + 1, "external": f"E{n}"})
            # Answered on the reminder's day, hours before it went out; then later ones.
            day = 8 + n // 20
            connection.execute(
                text(invitation),
                {"id": n + 1, "responded": f"2026-02-{day:02d} 09:{n % 60:02d}:17"},
            )
            month = "2026-02-01" if n < 40 else "2026-03-01"
            connection.execute(text(response), {"id": f"r{n:03d}", "month": month})
            for item, value in fingerprint(n).items():
                if isinstance(value, int) and not isinstance(value, bool):
                    connection.execute(
                        text(answer), {"id": f"r{n:03d}", "item": item, "value": value}
                    )
        connection.execute(
            text(
                "INSERT INTO comment (response_id, deidentified_text, safety_flag, quote_status)"
                " VALUES ('r007', 'Fijn', true, 'approved')"
            )
        )
        before = {
            name: sorted(map(tuple, connection.execute(text(f"SELECT * FROM {name}"))), key=repr)
            for name in ("response", "response_answer", "comment")
        }
        # Later revisions add columns (the provider of a response): compare the ones there were.
        columns = {
            name: ", ".join(connection.execute(text(f"SELECT * FROM {name}")).keys())
            for name in before
        }

    upgrade(url)

    with engine.begin() as connection:
        answered = (
            connection.execute(select(Invitation.responded_at).order_by(Invitation.id))
            .scalars()
            .all()
        )
        assert answered == [datetime(2026, 2, 8 + n // 20) for n in range(count)]
        assert installed_triggers(connection) == sorted(trigger_names())
        assert kept(connection) == rebuilt(connection)
        after_reminder = connection.execute(
            text("SELECT SUM(after_reminder), SUM(responded) FROM funnel_cell")
        ).one()
        assert tuple(after_reminder) == (3 * count, 3 * count)  # each counted once per pair
        after = {
            name: sorted(
                map(tuple, connection.execute(text(f"SELECT {columns[name]} FROM {name}"))),
                key=repr,
            )
            for name in before
        }
        assert after == before
        position = "ctid" if connection.dialect.name == "postgresql" else "rowid"
        order = [
            int(rid[1:])
            for rid in connection.execute(
                text(f"SELECT id FROM response ORDER BY {position}")
            ).scalars()
        ]
        february = [n for n in order if n < 40]
        assert chance_hits(february) <= MAX_CHANCE_HITS, february
        if connection.dialect.name == "postgresql":
            # All rewritten by the migration's one transaction (the invitations too: their
            # times were cut), so the stamp tells nothing apart.
            for table in ("response", "response_answer", "invitation"):
                stamps = connection.execute(text(f"SELECT DISTINCT xmin::text FROM {table}"))
                assert len(stamps.all()) == 1, table


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_overwrites_what_it_deletes(app, db, database_url):
    """A deleted row does not stay readable in the file's free pages (PRAGMA secure_delete)."""
    from pathlib import Path

    from sqlalchemy import delete, text

    from survey.models import Episode
    from tests.factories import make_episode

    for n in range(300):
        make_episode(db, external_id=f"GEHEIM-{n:04d}-XYZ", team="Team Vertrouwelijk")
    db.commit()
    db.execute(delete(Episode).where(Episode.team == "Team Vertrouwelijk"))
    db.commit()
    db.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    db.commit()
    path = Path(database_url.removeprefix("sqlite:///"))
    files = [path, path.with_name(path.name + "-wal")]
    assert b"-XYZ" not in b"".join(f.read_bytes() for f in files if f.exists())
