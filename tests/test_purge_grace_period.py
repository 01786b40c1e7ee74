"""Retention (`ervaringswijzer purge`, DESIGN §3): each invitation's own grace period.

A daily purge erases an invitation's contact data 30 days after it was answered, opted out,
bounced or expired, and not a day before (the mix of tests/purge_region.py, purged midway).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.purge_region import (
    BOUNCING,
    D0,
    EARLY_ADDRESSES,
    LATE_ADDRESSES,
    LATE_ANSWERED,
    LATE_SENT,
    PURGE_DAY,
    answers,
    contact_data,
    figures,
    traces,
)

MIDWAY = D0 + timedelta(days=35)  # 35 days after D0, only 7 days after the early links expired


@pytest.mark.parametrize("region", [MIDWAY], indirect=True)
def test_each_invitation_keeps_its_contact_data_for_its_grace_period_only(region):
    engine = region.engine

    def stored(prefix: str) -> set[str]:
        return contact_data(engine, prefix)[0]

    # The purge on MIDWAY erased what was answered, opted out or bounced on D0 (35 > 30 days
    # ago) and what was too old to send; a link that merely expired, or was answered on day 8
    # after the reminder, is within its 30 days.
    did = {a: what for a, what in region.outcome.items() if a in EARLY_ADDRESSES}
    erased = {a for a, what in did.items() if what in ("answered", "opted out")} | BOUNCING
    erased |= {"ouder-e38@example.org"}
    kept = {a for a, what in did.items() if what in ("opened", "answered after the reminder")}
    kept |= {a for a in region.tokens if a in EARLY_ADDRESSES and a not in did}  # quiet
    assert len(erased) > 15 and len(kept) > 15
    assert stored("E") == kept
    assert traces(engine, erased | {region.tokens[a] for a in erased if a in region.tokens}) == []
    figures_before, answers_before = figures(engine), answers(engine)

    region.purge(PURGE_DAY)
    assert stored("E") == set()
    answered = ["ouder-l01@example.org", "jongere-l03@example.org"]
    unanswered = sorted(LATE_ADDRESSES - set(answered))
    region.purge(LATE_ANSWERED + timedelta(days=29))
    assert stored("L") == LATE_ADDRESSES
    region.purge(LATE_ANSWERED + timedelta(days=31))
    assert stored("L") == set(unanswered)  # their links expired later: still kept
    assert traces(engine, set(answered) | {region.tokens[a] for a in answered}) == []
    late_expiry = LATE_SENT + timedelta(days=28)
    region.purge(late_expiry + timedelta(days=29))
    assert stored("L") == set(unanswered)
    region.purge(late_expiry + timedelta(days=31))
    assert stored("L") == set()
    assert traces(engine, LATE_ADDRESSES | {region.tokens[a] for a in LATE_ADDRESSES}) == []
    assert figures(engine) == figures_before
    assert answers(engine) == answers_before
