"""Retention (`ervaringswijzer purge`, DESIGN §3): every trace of addresses and tokens goes.

On the realistic mix of tests/purge_region.py, after PURGE_AFTER_DAYS every trace of the families'
addresses and tokens must be gone from every text column of every table, while the response-rate
figures and the answers stay exactly the same, also when two purges run at once.
"""

from __future__ import annotations

import threading

from sqlalchemy import select

from survey.db import get_session
from survey.invitations.operations import clock, hash_token
from survey.models import Invitation, OutboxMessage, Response
from survey.retention.purge import purge
from tests.purge_region import (
    EARLY_ADDRESSES,
    LATE_ADDRESSES,
    PURGE_DAY,
    answers,
    contact_data,
    count,
    figures,
    snapshot,
    text_columns,
    traces,
)


def test_purge_erases_every_trace_of_addresses_and_tokens_and_keeps_the_figures(region):
    engine = region.engine
    scanned = set(text_columns(engine))
    assert {
        ("invitation", "email"),
        ("invitation", "token_hash"),
        ("outbox_message", "recipient"),
        ("outbox_message", "body_text"),
        ("outbox_message", "body_html"),
        ("mail_suppression", "address_hash"),
        ("response_answer", "value_text"),
    } <= scanned
    early_emails, early_hashes, early_tokens = contact_data(engine, "E")
    assert early_tokens >= {region.tokens[a] for a in EARLY_ADDRESSES if a in region.tokens}
    assert {hash_token(t) for t in early_tokens} == early_hashes  # bounced ones included
    assert len(early_tokens) == 49
    needles = EARLY_ADDRESSES | early_tokens | early_hashes
    assert early_emails <= EARLY_ADDRESSES
    assert traces(engine, needles)  # the scan does find them while they are there
    figures_before, answers_before = figures(engine), answers(engine)
    assert len({row[0] for row in answers_before}) == 2  # both groups answered
    responses = count(engine, select(Response.id))
    assert responses == 17  # 12 on D0, 3 after the reminder, 2 of the late cohort

    output = region.purge(PURGE_DAY)
    assert "Invitations erased (address and token): 50" in output, output

    assert traces(engine, needles) == []
    assert figures(engine) == figures_before
    assert answers(engine) == answers_before
    assert count(engine, select(Response.id)) == responses
    purged = select(Invitation.id).where(Invitation.purged_at.is_not(None))
    left_over = select(OutboxMessage.id).where(
        OutboxMessage.invitation_id.in_(purged),
        (OutboxMessage.recipient.is_not(None))
        | (OutboxMessage.body_text.is_not(None))
        | (OutboxMessage.body_html.is_not(None)),
    )
    assert count(engine, left_over) == 0
    assert (
        count(engine, select(OutboxMessage.id).where(OutboxMessage.invitation_id.in_(purged))) > 90
    )
    assert count(engine, select(OutboxMessage.id).where(OutboxMessage.status == "pending")) == 0

    # The late cohort is within its retention period: nothing of it was touched.
    late_emails, late_hashes, late_tokens = contact_data(engine, "L")
    assert late_emails == LATE_ADDRESSES
    assert late_hashes == {hash_token(region.tokens[a]) for a in LATE_ADDRESSES}
    assert late_tokens == {region.tokens[a] for a in LATE_ADDRESSES}

    # Purging again the same day finds nothing to do and changes nothing.
    before_again = snapshot(engine)
    again = region.purge(PURGE_DAY)
    assert "Invitations erased (address and token): 0" in again, again
    assert "Outbox messages erased (address and body): 0" in again, again
    assert snapshot(engine) == before_again


def test_two_purges_at_once_are_harmless(region):
    engine = region.engine
    figures_before, answers_before = figures(engine), answers(engine)
    _, hashes, tokens = contact_data(engine, "E")
    start = threading.Barrier(2)
    results, errors = [], []

    def run() -> None:
        try:
            with region.app.app_context():
                start.wait()
                results.append(purge(get_session(), region.app.config, clock(PURGE_DAY)))
        except Exception as exc:  # reported below, with the other thread's outcome
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert len(results) == 2
    # Between them they erased every eligible invitation exactly once.
    purged = count(engine, select(Invitation.id).where(Invitation.purged_at.is_not(None)))
    assert sum(r.invitations for r in results) == purged == 50
    assert traces(engine, EARLY_ADDRESSES | tokens | hashes) == []
    assert figures(engine) == figures_before
    assert answers(engine) == answers_before
    assert "Invitations erased (address and token): 0" in region.purge(PURGE_DAY)
