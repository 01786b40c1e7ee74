"""Publication patterns in the database: decided once by the worker, read by pages, kept stable
when new answers arrive, and comment lists that follow the fixed periods."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from sqlalchemy import select

from analysis.disclosure import TOTAL
from analysis.publication import PLACE_DIMENSIONS
from survey.answers.operations import submit_response
from survey.answers.questionnaires import load_questionnaires
from survey.models import Comment, utcnow
from tests.factories import make_episode, make_invited


def test_the_worker_decides_the_pattern_once_and_pages_read_it(db, monkeypatch):
    import analysis.publication.build as publication_module  # where build_lattice calls it
    import survey.reporting.publication as stored_module
    from survey.models import PublicationPattern
    from tests.test_report import fill_region

    fill_region(db)
    assert stored_module.decide_patterns(db, 5) >= 1
    assert stored_module.decide_patterns(db, 5) == 0  # nothing changed: nothing decided again
    row = db.scalars(select(PublicationPattern)).one()
    year = row.year
    decided = stored_module.lattice_of(db, year, 5)

    stored_module._CACHE.clear()  # another web process: it reads the stored pattern
    monkeypatch.setattr(publication_module, "_suppress", lambda lattice, **_: 1 / 0)
    read = stored_module.lattice_of(db, year, 5)
    assert (read.hidden == decided.hidden).all()

    # A new answer changes the cells: the stored pattern no longer fits and is not used.
    stored_module._CACHE.clear()
    episode = make_episode(db, end_date=date(year, 6, 1), team="Team Nieuw")
    invitation, _ = make_invited(db, episode=episode, respondent_group="youth")
    marks = {"self_direction": 9, "usefulness": 9}
    assert submit_response(db, invitation, load_questionnaires()["youth"], marks, "nl", utcnow())
    with pytest.raises(ZeroDivisionError):
        stored_module.lattice_of(db, year, 5)


def test_a_new_answer_leaves_every_unchanged_figure_as_it_was_shown(db):
    import survey.reporting.publication as stored_module
    from survey.models import PublicationPattern
    from tests.test_report import fill_region

    fill_region(db)
    stored_module.decide_patterns(db, 5)
    row = db.scalars(select(PublicationPattern)).one()
    year = row.year
    first = stored_module.lattice_of(db, year, 5)
    episode = make_episode(db, end_date=date(year, 11, 3), team="Team Nieuw")
    invitation, _ = make_invited(db, episode=episode, respondent_group="parent")
    marks = {"self_direction": 4, "usefulness": 5}
    assert submit_response(db, invitation, load_questionnaires()["parent"], marks, "nl", utcnow())
    stored_module._CACHE.clear()
    assert stored_module.decide_patterns(db, 5) == 1
    db.expire_all()
    second = stored_module.lattice_of(db, year, 5)
    assert db.get(PublicationPattern, (year, 5)).state == second.state()  # the next starts here
    # Matched by label: the new team shifts every code. What was shown and did not change is
    # shown again; the parents' November and its margins changed and were decided anew.
    unchanged = 0
    for index in np.flatnonzero(~first.hidden):
        code = int(first.codes[index])
        group, time, *place = (code // first.strides) % np.array(first.radix)
        labels = {
            dim: first.levels[dim][value]
            for dim, value in zip(PLACE_DIMENSIONS, place, strict=True)
            if value < len(first.levels[dim])
        }
        name = ("youth", "parent", TOTAL)[group]
        at = second.lookup([second.code_of(name, int(time), labels)])[0]
        if second.n[at] == first.n[index] and second.sent[at] == first.sent[index]:
            unchanged += 1
            assert not second.hidden[at], (name, time, labels)
    assert unchanged >= 10


def test_a_send_pass_decides_the_pattern_of_the_changed_year(runner, db):
    from survey.models import PublicationPattern
    from tests.test_report import fill_region

    fill_region(db)
    assert db.scalars(select(PublicationPattern)).all() == []
    result = runner.invoke(args=["send"])
    assert result.exit_code == 0, result.output
    db.expire_all()
    stored = db.scalars(select(PublicationPattern)).one()
    assert stored.min_cell_size == 5 and len(stored.digest) == 64


def test_a_page_does_not_wait_for_a_large_year_it_shows_it_without_breakdowns(app, db, monkeypatch):
    import csv
    import io

    import survey.reporting.publication as stored_module
    from tests.staff_helpers import get, signed_in_client
    from tests.test_report import fill_region

    fill_region(db)
    monkeypatch.setattr(stored_module, "IN_REQUEST_LIMIT", 0)  # every year counts as large
    client, _ = signed_in_client(app, db, "viewer")

    def teams() -> dict[str, str]:
        query = {"table": "breakdown", "by": "team", "by2": "", "variant": "machine"}
        body = get(client, "/staff/dashboard/export.csv", query_string=query).get_data(True)
        return {row["team"]: row["suppressed"] for row in csv.DictReader(io.StringIO(body))}

    waiting = teams()
    assert waiting["Totaal"] == "False"  # the group × period figures are there at once
    assert {waiting[f"Team {n}"] for n in range(3)} == {"True"}  # breakdowns wait
    assert stored_module.decide_patterns(db, 5) == 1  # the worker's pass
    decided = teams()
    assert {decided[f"Team {n}"] for n in range(3)} == {"False"}


def test_comment_lists_do_not_follow_the_month(db):
    from survey.quotes.operations import QuoteFilter, comments
    from tests.factories import make_comment

    for number, month in enumerate((1, 2, 3) * 4):
        text = f"Goed geholpen ({number}) in maand {month}."
        make_comment(db, text, end_date=date(2025, month, 10))
    for comment in db.scalars(select(Comment)):
        comment.deidentified_text = "tekst"
    db.commit()
    rows = comments(db, QuoteFilter(start=date(2025, 1, 1)))
    listed = [comment.response_id for comment, _ in rows]
    assert len(listed) == 12 and listed == sorted(listed)  # by their random ids
    months = [response.end_month.month for _, response in rows]
    assert months != sorted(months)  # not in month blocks (chance: 1 in 34,650)


# --- two patterns of one year, decided on different days -------------------------------------
