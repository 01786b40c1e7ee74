"""A database dump must not pair a response with the invitation it answers (issue 16, point 4).

The attacker here holds the whole database: the invitations (with their addresses, while not
purged) and the responses. Eighty parents of one cohort — same team, municipality, care type,
group and months — answer through `submit_response`, one invitation each. The test plays the
strongest attacker: it knows the exact order in which the invitations were answered and tries to
pair them with the responses by the responses' physical order (SQLite rowid, PostgreSQL ctid),
by PostgreSQL's transaction stamp `xmin`, and by timestamps. Without mixing every one of these
pairs all eighty correctly (shown first, so the test can fail); after `mix_responses` — directly,
or through `send` or `purge` — the pairing is no better than chance and nothing else changed.
(The helpers are in tests/mixing.py.)
"""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from sqlalchemy import select, text

from survey.answers.mixing import mix_responses
from survey.models import Invitation, Response
from tests.mixing import (
    COHORT,
    ENDED,
    MAX_CHANCE_HITS,
    MAX_CHANCE_RHO,
    MIX_DAY,
    answer_in_order,
    answer_once,
    answer_world,
    cells,
    chance_hits,
    cohort_order,
    marks_counted,
    mix_through,
    numbers,
    postgres,
    rank_correlation,
    review_some_comments,
    stored_order,
    window_stamps,
    xmins,
)

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
