"""The curious insider through the web only, on PostgreSQL: every period, view and comment count.

A viewer downloads every table the dashboard offers (its groups, its trend per month and
quarter, and the breakdowns by one or two of group, team, municipality and care type) as CSV
for every publication period of a year that the period list offers; a quality officer adds the
comment counts of every group × period the comments page shows. Each shown figure is an equation
over the families' cells (group × month × team × municipality × care type); solved exactly, no
hidden group of 1 to k-1 responses may follow, nor the comment count of one.
"""

from __future__ import annotations

import csv
import io
import re

import pytest

from analysis.publication import PublicationPeriod
from tests.pages import options, soup, text_of, visible
from tests.staff_helpers import get, signed_in_client
from tests.test_attack import GROUPS, YEAR, derivable, fill_year, leaf_mask, row_space

K = 5
TABLES = [
    ("groups", {}),
    ("trend", {"grain": "month"}),
    ("trend", {"grain": "quarter"}),
    *[("breakdown", {"by": by, "by2": by2}) for by in ("team", "municipality", "care_type")
      for by2 in ("", "group")],
    ("breakdown", {"by": "team", "by2": "municipality"}),
    ("breakdown", {"by": "care_type", "by2": "municipality"}),
    ("breakdown", {"by": "month", "by2": "team"}),
]  # fmt: skip


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_viewer_and_a_quality_officer_cannot_single_out_a_family_on_the_web(app, db):
    answers, comments = fill_year(db, 4, rate=1.0)
    viewer, _ = signed_in_client(app, db, "viewer")
    page = get(viewer, "/staff/dashboard/").get_data(as_text=True)
    offered = sorted(set(options(page, "period")))
    periods = [PublicationPeriod.parse(key) for key in offered]
    assert {p.kind for p in periods} == {"month", "quarter", "half", "year"}
    assert all(p.year == YEAR for p in periods) and len(periods) == 19

    shown, values, hidden = [], [], []
    for period in periods:
        for table, args in TABLES:
            query = {"table": table, "period": period.key, "variant": "machine", **args}
            answer = get(viewer, "/staff/dashboard/export.csv", query_string=query)
            assert answer.status_code == 200
            for row in csv.DictReader(io.StringIO(answer.get_data(as_text=True))):
                mask = leaf_mask(row, period)
                if row["suppressed"] == "True":
                    assert row["responded"] == "" and row["invited"] == ""
                    hidden.append(mask)
                else:
                    assert int(row["responded"]) == answers[mask].sum() >= K
                    shown.append(mask)
                    values.append(int(row["responded"]))

    quality, _ = signed_in_client(app, db, "quality")
    comment_masks, comment_counts = [], []
    for period in periods:
        for group in GROUPS:
            query = {"group": group, "period": period.key}
            text = get(quality, "/staff/dashboard/comments", query_string=query).get_data(
                as_text=True
            )
            # The heading over the comments: "5 opmerkingen".
            counted = [visible(h).split()[0] for h in soup(text).find_all("h2") if visible(h)]
            heading = next((words for words in counted if words.isdecimal()), None)
            mask = leaf_mask({"group": group}, period)
            if heading:
                assert answers[mask].sum() >= K
                assert int(heading) == comments[mask].sum()
                comment_masks.append(mask)
                comment_counts.append(int(heading))
            else:  # a hidden group: the notice, and none of its comments
                assert "te weinig reacties" in text
                assert not soup(text).select("blockquote.quote-text"), "a hidden group's comment"
                assert not re.search(r"Opmerking \d+", text_of(text))

    basis = row_space(shown)
    small = [m for m in hidden if 1 <= answers[m].sum() < K]
    assert len(small) > 30
    assert [m for m in small if derivable(basis, m)] == []
    # The comment counts are sums over the same families: with them added, no hidden group's
    # comment count (nor its answers) follows either.
    with_comments = row_space(shown + comment_masks)
    assert [m for m in small if derivable(with_comments, m)] == []
