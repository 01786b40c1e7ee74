"""The cohort cells the database keeps (survey/cells/) always equal the base tables' sums.

Random writes of every kind the triggers must follow (invite, send, open, remind, answer,
bounce, opt out, move an invitation or an episode, delete an episode, answer, change or delete a
mark, move or delete a response), committed or rolled back, on both backends; after each, the
kept cells must be exactly what a rebuild from scratch computes.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.engine import Engine

from analysis.publication import PublicationPeriod
from survey.cells import funnel_cell, mark_cell, rebuild, trigger_names
from survey.db import make_engine
from survey.models import Episode, Invitation, Response, ResponseAnswer
from survey.reporting.cohorts import Cells, cohort_rows
from survey.reporting.dimensions import Period
from survey.reporting.queries import cells_can_answer
from tests.factories import default_provider_id

TEAMS = ("Noord", "Zuid", "Oost")
PLACES = ("Amersfoort", "Leusden", "Soest")
CARE = ("Begeleiding", "Behandeling")
GROUPS = ("youth", "parent")
STAMPS = ("sent_at", "opened_at", "reminded_at", "responded_at", "bounced_at", "opted_out_at")


def kept(connection: Connection) -> tuple[list[tuple], list[tuple]]:
    """The non-empty cells as stored (a cell emptied by a delete keeps a row of zeros)."""
    funnel = select(funnel_cell).where(funnel_cell.c.invited != 0)
    marks = select(mark_cell).where(mark_cell.c.n != 0)
    return (
        sorted(tuple(row) for row in connection.execute(funnel)),
        sorted(tuple(row) for row in connection.execute(marks)),
    )


def rebuilt(connection: Connection) -> tuple[list[tuple], list[tuple]]:
    """The cells as a rebuild from the base tables computes them (rolled back after)."""
    with connection.begin_nested() as savepoint:
        rebuild(connection)
        cells = kept(connection)
        savepoint.rollback()
    return cells


def some_day(rng: random.Random) -> date:
    return date(2025, 1, 1) + timedelta(days=rng.randrange(400))


def some_moment(rng: random.Random) -> datetime:
    return datetime(2025, 6, 1) + timedelta(minutes=rng.randrange(200_000))


def random_write(connection: Connection, rng: random.Random) -> str:
    """One random write of the kinds the triggers follow; returns what it did."""
    episodes = connection.execute(select(Episode.id)).scalars().all()
    invitations = connection.execute(select(Invitation.id)).scalars().all()
    responses = connection.execute(select(Response.id)).scalars().all()
    kind = rng.choice(
        ["episode"] * 3
        + ["stamp"] * 6
        + ["response"] * 3
        + ["mark", "invitation moves", "episode moves", "episode deleted"]
        + ["response moves", "response deleted", "mark deleted", "answer inserted as text"]
    )
    if kind == "episode" or not episodes:
        episode_id = connection.execute(
            insert(Episode).returning(Episode.id),
            {
                "provider_id": default_provider_id(connection),
                "external_id": f"E{rng.randrange(10**9)}",
                "end_date": some_day(rng),
                "team": rng.choice(TEAMS),
                "municipality": rng.choice(PLACES),
                "care_type": rng.choice(CARE),
            },
        ).scalar_one()
        for group in rng.sample(GROUPS, rng.randint(1, 2)):
            invited = some_moment(rng) if rng.random() < 0.7 else None
            connection.execute(
                insert(Invitation),
                {"episode_id": episode_id, "respondent_group": group, "invited_at": invited},
            )
        return "episode"
    if kind == "stamp" and invitations:
        column = rng.choice(["invited_at", *STAMPS])
        value = None if rng.random() < 0.15 else some_moment(rng)
        chosen = rng.sample(invitations, min(len(invitations), rng.randint(1, 3)))
        connection.execute(
            update(Invitation).where(Invitation.id.in_(chosen)).values({column: value})
        )
        return f"stamp {column}"
    if kind == "invitation moves" and invitations:
        invitation_id = rng.choice(invitations)
        free = (
            connection.execute(
                select(Episode.id).where(
                    ~Episode.invitations.any(Invitation.respondent_group == "parent")
                )
            )
            .scalars()
            .first()
        )
        moved = {"respondent_group": "parent", "episode_id": free} if free else {}
        if moved:
            connection.execute(
                update(Invitation).where(Invitation.id == invitation_id).values(moved)
            )
        return kind
    if kind == "episode moves":
        connection.execute(
            update(Episode)
            .where(Episode.id == rng.choice(episodes))
            .values(team=rng.choice(TEAMS), end_date=some_day(rng))
        )
        return kind
    if kind == "episode deleted":
        connection.execute(delete(Episode).where(Episode.id == rng.choice(episodes)))
        return kind
    if kind == "response" or not responses:
        response_id = f"r{rng.randrange(10**12)}"
        connection.execute(
            insert(Response),
            {
                "id": response_id,
                "provider_id": default_provider_id(connection),
                "respondent_group": rng.choice(GROUPS),
                "team": rng.choice(TEAMS),
                "municipality": rng.choice(PLACES),
                "care_type": rng.choice(CARE),
                "end_month": some_day(rng).replace(day=1),
                "submitted_month": date(2026, 1, 1),
                "questionnaire_key": "q",
                "questionnaire_version": 1,
                "language": "nl",
            },
        )
        answers = [
            {"response_id": response_id, "item_id": item, "value_int": rng.randint(1, 10)}
            for item in ("self_direction", "usefulness")
            if rng.random() < 0.85
        ]
        answers.append({"response_id": response_id, "item_id": "quote_consent", "value_int": 1})
        connection.execute(insert(ResponseAnswer), answers)
        return "response"
    response_id = rng.choice(responses)
    if kind == "mark":
        connection.execute(
            update(ResponseAnswer)
            .where(ResponseAnswer.response_id == response_id)
            .values(value_int=rng.choice([None, *range(1, 11)]))
        )
    elif kind == "mark deleted":
        connection.execute(
            delete(ResponseAnswer).where(
                ResponseAnswer.response_id == response_id,
                ResponseAnswer.item_id == rng.choice(("self_direction", "usefulness")),
            )
        )
    elif kind == "answer inserted as text":  # a comment is no mark: no cell moves
        has_comment = connection.execute(
            select(ResponseAnswer.item_id).where(
                ResponseAnswer.response_id == response_id, ResponseAnswer.item_id == "comment"
            )
        ).first()
        if not has_comment:
            connection.execute(
                insert(ResponseAnswer),
                {"response_id": response_id, "item_id": "comment", "value_text": "Fijn."},
            )
    elif kind == "response moves":
        connection.execute(
            update(Response)
            .where(Response.id == response_id)
            .values(municipality=rng.choice(PLACES), end_month=some_day(rng).replace(day=1))
        )
    else:
        connection.execute(delete(Response).where(Response.id == response_id))
    return kind


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def test_kept_cells_equal_a_rebuild_after_every_kind_of_write(engine):
    rng = random.Random(20261202)
    done: set[str] = set()
    with engine.connect() as connection:
        for step in range(160):
            with connection.begin() as transaction:
                for _ in range(rng.randint(1, 4)):
                    done.add(random_write(connection, rng))
                if step % 7 == 6:
                    transaction.rollback()  # the counts of a rolled-back write go with it
            with connection.begin():
                assert kept(connection) == rebuilt(connection), f"after step {step}: {done}"
        funnel, marks = kept(connection)
    # The walk really covered the kinds of write, and the cells are not trivially empty.
    assert {"episode deleted", "episode moves", "response deleted", "response moves"} <= done
    assert {"stamp sent_at", "stamp responded_at", "stamp reminded_at", "mark"} <= done
    assert len(funnel) > 30 and len(marks) > 30
    with engine.connect() as connection:
        responded = select(func.sum(funnel_cell.c.responded))
        assert connection.execute(responded).scalar() > 0


def test_each_change_counts_once_per_pair_of_dimensions(engine):
    with engine.begin() as connection:
        episode_id = connection.execute(
            insert(Episode).returning(Episode.id),
            {
                "provider_id": default_provider_id(connection),
                "external_id": "E1",
                "end_date": date(2025, 5, 20),
                "team": "Noord",
                "municipality": "Leusden",
                "care_type": "Begeleiding",
            },
        ).scalar_one()
        connection.execute(
            insert(Invitation),
            {"episode_id": episode_id, "respondent_group": "youth", "invited_at": None},
        )
    with engine.begin() as connection:
        assert kept(connection) == ([], [])  # imported, not yet invited: not in the report
        connection.execute(update(Invitation).values(invited_at=datetime(2025, 6, 1)))
        connection.execute(update(Invitation).values(sent_at=datetime(2025, 6, 1)))
        rows = connection.execute(
            select(funnel_cell.c.pair, funnel_cell.c.team, funnel_cell.c.municipality,
                   funnel_cell.c.care_type, funnel_cell.c.end_month,
                   funnel_cell.c.invited, funnel_cell.c.sent)
            .order_by(funnel_cell.c.pair)
        ).all()  # fmt: skip
    assert [tuple(row) for row in rows] == [
        ("municipality+care_type", "", "Leusden", "Begeleiding", date(2025, 5, 1), 1, 1),
        ("team+care_type", "Noord", "", "Begeleiding", date(2025, 5, 1), 1, 1),
        ("team+municipality", "Noord", "Leusden", "", date(2025, 5, 1), 1, 1),
    ]


def test_the_dashboards_cells_come_from_the_kept_sums_and_equal_the_base_tables(db):
    from tests.dashboard_data import mixed_region

    mixed_region(db)
    cubes = [("group",), ("group", "month"), ("municipality", "care_type")]
    for key in ("2025", "2026-H1", "2026-Q2"):  # publication periods: always whole months
        period = Period.of(PublicationPeriod.parse(key))
        assert cells_can_answer(("group", "municipality", "care_type", "month"), period)
        cells = Cells.fetch(db, cubes, period)
        assert cells.from_cells
        for dims in cubes:
            alone = cohort_rows(db, dims, period, 5, margins=True)  # from the base tables
            assert cohort_rows(db, dims, period, 5, margins=True, cells=cells) == alone
    # Days inside a month, or all three dimensions together: the base tables answer.
    assert not cells_can_answer(("group",), Period(date(2025, 3, 2), None))
    assert not cells_can_answer(("team", "municipality", "care_type"), Period())
    assert not Cells.fetch(db, [("team", "municipality", "care_type")], Period()).from_cells


def test_every_trigger_exists_on_a_new_database(engine):
    with engine.connect() as connection:
        assert sorted(trigger_names()) == installed_triggers(connection)
        assert connection.execute(select(func.count()).select_from(funnel_cell)).scalar() == 0


def installed_triggers(connection: Connection) -> list[str]:
    if connection.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
    else:
        query = (
            "SELECT DISTINCT trigger_name FROM information_schema.triggers "
            "WHERE trigger_schema = current_schema()"
        )
    return sorted(connection.exec_driver_sql(query).scalars())
