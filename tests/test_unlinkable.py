"""A database dump must not pair a response with the invitation it answers (issue 16, point 4).

The attacker here holds the whole database: the invitations (with their addresses, while not
purged) and the responses. Eighty parents of one cohort — same team, municipality, care type,
group and months — answer through `submit_response`, one invitation each. The test plays the
strongest attacker: it knows the exact order in which the invitations were answered and tries to
pair them with the responses by the responses' physical order (SQLite rowid, PostgreSQL ctid),
by PostgreSQL's transaction stamp `xmin`, and by timestamps. Without mixing every one of these
pairs all eighty correctly (shown first, so the test can fail); after `mix_responses` — directly,
or through `send` or `purge` — the pairing is no better than chance and nothing else changed.
"""

from __future__ import annotations

import statistics
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.types import Date, DateTime

import survey.sending
from survey.cells import trigger_names
from survey.migrate import upgrade
from survey.mixing import mix_responses
from survey.models import Comment, Invitation, Response, ResponseAnswer
from survey.questionnaires import load_questionnaires
from survey.reports import Period, funnel_cells
from survey.responses import submit_response
from tests.factories import make_episode, make_invitation, make_invited
from tests.test_cells import installed_triggers, kept, rebuilt
from tests.test_schema import empty_database  # noqa: F401  (the fixture)

COHORT = 80
ENDED = date(2026, 2, 20)  # every episode of the cohort ended that day
ANSWERED = datetime(2026, 3, 2, 9, 0)  # the first answer; the last on 21 March
MIX_DAY = date(2026, 3, 25)
# With a random order, the number of positions where the i-th response is the i-th answer is
# close to Poisson(1) (expected 1). P(more than 8) = 1 - sum(e^-1 / k!, k = 0..8) ≈ 1.0e-6, so
# the bound fails a correct mix about once in a million runs; an unmixed table scores 80.
MAX_CHANCE_HITS = 8
# Spearman's rho between stored position and answering order: under a random order its standard
# deviation is 1/sqrt(79) ≈ 0.11, so |rho| ≥ 0.55 is 4.9 standard deviations (p ≈ 1e-6).
MAX_CHANCE_RHO = 0.55


def fingerprint(n: int) -> dict[str, object]:
    """The answers of the n-th parent: a mark pair unique for n < 100, a comment for some."""
    answers: dict[str, object] = {"self_direction": 1 + n % 10, "usefulness": 1 + n // 10}
    if n % 3 == 0:
        answers |= {"comment": f"Reactie nummer {n}, dank jullie wel.", "quote_consent": True}
    return answers


def answer_in_order(db, count: int = COHORT) -> list[Invitation]:
    """`count` invitations of one cohort, answered in order (four a day) through the service."""
    questionnaire = load_questionnaires()["parent"]
    invitations = [
        make_invited(
            db,
            now=datetime(2026, 3, 1),
            expires_in_days=60,
            episode=make_episode(db, end_date=ENDED),
        )[0]
        for _ in range(count)
    ]
    for n, invitation in enumerate(invitations):
        moment = ANSWERED + timedelta(days=n // 4, minutes=7 * n)
        assert submit_response(db, invitation, questionnaire, fingerprint(n), "nl", moment)
    return invitations


def answer_once(db, ended: date, moment: datetime, n: int) -> None:
    """One more answer, of another month, with fingerprint `n`."""
    invitation, _ = make_invited(
        db, now=moment - timedelta(days=1), episode=make_episode(db, end_date=ended)
    )
    questionnaire = load_questionnaires()["parent"]
    assert submit_response(db, invitation, questionnaire, fingerprint(n), "nl", moment)


def postgres(db) -> bool:
    return db.get_bind().dialect.name == "postgresql"


def stored_order(db, table: str = "response", key: str = "id") -> list[str]:
    """The response ids in the order the rows lie in `table` (each id once)."""
    db.commit()  # a fresh snapshot (SQLite WAL)
    position = "ctid" if postgres(db) else "rowid"
    ids = db.scalars(text(f"SELECT {key} FROM {table} ORDER BY {position}")).all()
    return list(dict.fromkeys(ids))


def numbers(db) -> dict[str, int]:
    """Response id → which parent answered it, read off the mark pair (the ground truth)."""
    marks: dict[str, dict[str, int]] = {}
    for response_id, item, value in db.execute(
        select(ResponseAnswer.response_id, ResponseAnswer.item_id, ResponseAnswer.value_int)
    ):
        marks.setdefault(response_id, {})[item] = value
    return {rid: (m["self_direction"] - 1) + 10 * (m["usefulness"] - 1) for rid, m in marks.items()}


def chance_hits(order: list[int]) -> int:
    """Pairs right when the i-th answered invitation is taken for the i-th stored row."""
    return sum(stored == answered for stored, answered in zip(order, sorted(order), strict=True))


def rank_correlation(order: list[int]) -> float:
    ranks = {n: rank for rank, n in enumerate(sorted(order))}
    return statistics.correlation(list(range(len(order))), [ranks[n] for n in order])


def cohort_order(db, table: str = "response", key: str = "id") -> list[int]:
    """Which parent's response lies at each position of `table`, for the March cohort only."""
    who = numbers(db)
    return [who[rid] for rid in stored_order(db, table, key) if who[rid] < COHORT]


def xmins(db, table: str) -> list[str]:
    db.commit()
    return db.scalars(text(f"SELECT xmin::text FROM {table}")).all()


def window_stamps(db, months: str) -> set[str]:
    """The xmins of the responses submitted in `months`, and of their answers and comments."""
    db.commit()
    stamps: set[str] = set()
    for table, key in (
        ("response", "id"),
        ("response_answer", "response_id"),
        ("comment", "response_id"),
    ):
        stamps |= set(
            db.scalars(
                text(
                    f"SELECT t.xmin::text FROM {table} AS t JOIN response AS r ON r.id = t.{key}"
                    f" WHERE r.submitted_month {months}"
                )
            )
        )
    return stamps


def answer_world(db) -> dict[str, list[tuple]]:
    """Every row of the three answer tables, every column, in a stable order."""
    db.commit()
    return {
        model.__tablename__: sorted(
            (tuple(row) for row in db.execute(select(*model.__table__.c))), key=repr
        )
        for model in (Response, ResponseAnswer, Comment)
    }


def cells(app) -> tuple[list[tuple], list[tuple]]:
    with app.extensions["db_engine"].connect() as connection:
        assert kept(connection) == rebuilt(connection)
        return kept(connection)


def marks_counted(kept_cells: tuple[list[tuple], list[tuple]]) -> int:
    """The marks counted in the kept mark cells (`n`, after the seven key columns)."""
    return sum(row[7] for row in kept_cells[1])


def review_some_comments(db) -> None:
    """Comments in every state the quote workflow leaves them in (mixing must keep each)."""
    comments = db.scalars(select(Comment).order_by(Comment.response_id)).all()
    assert len(comments) == 28  # 27 of the cohort, and the January one
    # All de-identified (as `send` would do anyway); a dozen with every kind of decision.
    for n, comment in enumerate(comments):
        comment.deidentified_text = f"Reactie nummer [getal-{n}], dank jullie wel."
        comment.placeholders = f"[[15, {20 + n}]]"
        if n < 12:
            comment.safety_flag = n % 4 == 0
            comment.quote_status = ("approved", "rejected", "new")[n % 3]
            comment.quote_text = f"Bewerkt citaat {n}." if n % 3 == 0 else None
    db.commit()


def mix_through(how: str, db, runner) -> None:
    if how == "mix_responses":
        assert mix_responses(db, MIX_DAY) == COHORT + 1  # and the February answer
        return
    result = runner.invoke(args=[how, "--today", MIX_DAY.isoformat()])
    assert result.exit_code == 0, result.output
    if how == "purge":
        assert f"Responses mixed (this month and last): {COHORT + 1}" in result.output


# -- the pairing ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["mix_responses", "send", "purge"])
def test_a_dump_pairs_responses_with_invitations_no_better_than_chance(app, db, runner, how):
    answer_once(db, date(2026, 1, 5), datetime(2026, 1, 15, 10, 0), 90)  # before the window
    answer_once(db, date(2026, 2, 1), datetime(2026, 2, 10, 10, 0), 91)  # last month: mixed
    invitations = answer_in_order(db)
    review_some_comments(db)
    before, cells_before = answer_world(db), cells(app)

    # Unmixed, the stored order gives every pair away, and so does PostgreSQL's xmin.
    assert cohort_order(db) == list(range(COHORT))
    assert chance_hits(cohort_order(db)) == COHORT
    if postgres(db):
        stamp = dict(db.execute(text("SELECT xmin::text, id FROM invitation")).all())
        answered = {inv.id: n for n, inv in enumerate(invitations)}
        who = numbers(db)
        rows = db.execute(text("SELECT id, xmin::text FROM response")).all()
        paired = [answered.get(stamp.get(xmin)) == who[rid] for rid, xmin in rows]
        assert sum(paired) == COHORT
    january_stamp = window_stamps(db, "< '2026-02-01'") if postgres(db) else None
    oldest = stored_order(db)[0]

    mix_through(how, db, runner)

    # Position: no better than chance, in each of the three tables.
    order = cohort_order(db)
    assert sorted(order) == list(range(COHORT))
    assert chance_hits(order) <= MAX_CHANCE_HITS, order
    assert abs(rank_correlation(order)) < MAX_CHANCE_RHO, order
    for table in ("response_answer", "comment"):
        assert chance_hits(cohort_order(db, table, "response_id")) <= MAX_CHANCE_HITS
    # The January answer is outside the window: left where it was.
    assert stored_order(db)[0] == oldest
    # xmin: every mixed row carries the mixing transaction's, which no invitation has.
    if postgres(db):
        assert window_stamps(db, "< '2026-02-01'") == january_stamp
        stamps = window_stamps(db, ">= '2026-02-01'")
        assert len(stamps) == 1
        assert not stamps & set(xmins(db, "invitation"))
    # Time: the invitation says only the day, four invitations share each; the response has
    # no time at all, only the first days of months.
    db.expire_all()
    answered_at = [db.get(Invitation, i.id).responded_at for i in invitations]
    assert {moment.time() for moment in answered_at} == {time(0, 0)}
    assert len(set(answered_at)) == COHORT // 4
    assert {r.submitted_month for r in db.scalars(select(Response))} <= {
        date(2026, 1, 1),
        date(2026, 2, 1),
        date(2026, 3, 1),
    }
    # Nothing else changed: every id and value (quote decisions included), and the kept sums.
    assert answer_world(db) == before
    assert cells(app) == cells_before


def test_mixing_twice_and_with_nothing_to_mix_is_harmless(app, db):
    assert mix_responses(db, MIX_DAY) == 0
    answer_in_order(db, 10)
    before, cells_before = answer_world(db), cells(app)
    assert mix_responses(db, MIX_DAY) == 10
    assert mix_responses(db, MIX_DAY) == 10
    assert mix_responses(db, date(2026, 5, 2)) == 0  # March is two months back by then
    assert answer_world(db) == before
    assert cells(app) == cells_before
    # Answers stored after a mix, on the same connection, are counted as ever.
    answer_once(db, ENDED, datetime(2026, 3, 26, 11, 0), 42)
    after = cells(app)  # equal to a rebuild, and the new marks are in it
    assert marks_counted(after) == marks_counted(cells_before) + 2 * 3  # two marks, three pairs


# -- answered to the day, and the reminder rule --------------------------------------------------

D0 = date(2026, 3, 2)


def test_answers_on_the_reminder_day_count_as_after_the_reminder(app, db, runner):
    invitations = [
        make_invitation(db, episode=make_episode(db, end_date=D0 - timedelta(1))) for _ in range(4)
    ]
    db.commit()
    ids = [invitation.id for invitation in invitations]
    assert (
        "Delivered:                  4" in runner.invoke(args=["send", "--today", f"{D0}"]).output
    )
    questionnaire = load_questionnaires()["parent"]

    def answer(number: int, moment: datetime) -> Invitation:
        db.expire_all()
        invitation = db.get(Invitation, ids[number])
        assert submit_response(db, invitation, questionnaire, fingerprint(number), "nl", moment)
        db.expire_all()
        return db.get(Invitation, ids[number])

    early = answer(0, datetime.combine(D0 + timedelta(3), time(10, 0)))  # no reminder for it
    reminded = runner.invoke(args=["send", "--today", f"{D0 + timedelta(7)}"]).output
    assert "Reminders delivered:        3" in reminded, reminded
    same_day = answer(1, datetime.combine(D0 + timedelta(7), time(0, 5)))
    later = answer(2, datetime.combine(D0 + timedelta(9), time(16, 40)))

    assert early.responded_at == datetime.combine(D0 + timedelta(3), time(0, 0))
    assert early.reminded_at is None
    assert same_day.responded_at == datetime.combine(D0 + timedelta(7), time(0, 0))
    # Stored as midnight, the same-day answer looks earlier than the reminder: only the day rule
    # counts it.
    assert same_day.responded_at < same_day.reminded_at
    assert later.responded_at == datetime.combine(D0 + timedelta(9), time(0, 0))
    for from_cells in (False, True):
        funnel = funnel_cells(db, ("group",), Period(), from_cells=from_cells)
        row = funnel.iloc[0]
        assert (row["sent"], row["responded"], row["after_reminder"]) == (4, 3, 2), from_cells
    cells(app)  # the kept cells equal a rebuild under the new rule


# -- the worker -------------------------------------------------------------------------------


def test_the_worker_mixes_at_start_and_then_at_most_once_an_hour(app, db, monkeypatch):
    minutes = iter(range(0, 24 * 60, 20))  # a pass every 20 minutes
    clock = {"now": 0.0}
    passes = {"left": 7}
    mixed_at: list[float] = []

    def due(*_args, **_kwargs) -> int:
        clock["now"] = next(minutes) * 60.0
        passes["left"] -= 1
        return passes["left"]

    monkeypatch.setattr(survey.sending, "count_due", due)
    monkeypatch.setattr(
        survey.sending,
        "time",
        SimpleNamespace(monotonic=lambda: clock["now"], sleep=lambda _seconds: None),
    )
    monkeypatch.setattr(survey.sending, "mix_responses", lambda *_a: mixed_at.append(clock["now"]))
    clock["now"] = -1.0  # before the first pass
    survey.sending.run_worker(db, app.config, interval=0.0, until_empty=True)
    # Seven passes, at the start and then every 20 minutes: mixed at the start and, in the
    # first pass at least an hour later, once more.
    assert passes["left"] == 0
    assert mixed_at == [-1.0, 3600.0]


# -- the migration ----------------------------------------------------------------------------


@pytest.fixture
def at_0006(empty_database):  # noqa: F811
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
            name: sorted(map(tuple, connection.execute(text(f"SELECT * FROM {name}"))), key=repr)
            for name in ("response", "response_answer", "comment")
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


def test_the_answer_world_still_has_no_time_column():
    """What makes the day-level `responded_at` enough: nothing finer on the other side."""
    for model in (Response, ResponseAnswer, Comment):
        for column in inspect(model).columns:
            assert not isinstance(column.type, DateTime), (model, column.name)
    assert isinstance(Response.__table__.c.submitted_month.type, Date)


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
